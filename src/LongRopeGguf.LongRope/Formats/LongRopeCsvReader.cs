using System.Globalization;

namespace LongRopeGguf.LongRope.Formats;

/// <summary>
/// Reads microsoft/LongRoPE's search output: result_final.csv is numpy.savetxt(factors, delimiter="\n"), one factor
/// per line ("%.18e"); the repository's other factor files hold one comma-separated row per layer. llama.cpp applies
/// one factor array to every layer, so per-layer factors are accepted only when all layers are equal, both as rows and
/// as a one-per-line file whose length is a multiple of the model's factor count (a 2-D array saved one value per line).
/// The file holds the long factors only; the short set is all ones and the lengths come from the options.
/// </summary>
public static class LongRopeCsvReader
{
    public static FactorSet Parse(string text, string path, FactorReadOptions options)
    {
        var rows = new List<(int Line, float[] Values)>();
        bool sawComma = false;
        int lineNumber = 0, numbers = 0;
        // Line by line as the text is scanned (not split up front): a file of millions of numbers stops at the limit.
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            string line = raw.Trim().TrimStart('\uFEFF').ToString();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string[] cells = line.Split(',', StringSplitOptions.TrimEntries);
            if (cells.Length > 1) sawComma = true;
            var values = new float[cells.Length];
            for (int c = 0; c < cells.Length; c++)
            {
                if (cells[c].Length == 0 && c == cells.Length - 1 && cells.Length > 1) { Array.Resize(ref values, c); break; } // trailing comma
                if (!float.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out values[c]))
                    throw new FactorSetException($"{path}: line {lineNumber}{(cells.Length > 1 ? $", column {c + 1}" : "")}: '{Truncate(cells[c])}' is not a number "
                        + "(expected a LongRoPE factor CSV: one factor per line, or comma-separated rows)");
                if (Gguf.NumberText.OutOfRange(values[c], cells[c]))
                    throw new FactorSetException($"{path}: line {lineNumber}{(cells.Length > 1 ? $", column {c + 1}" : "")}: {Truncate(cells[c])} {FactorSetReader.OutOfSingleRangeReason}");
            }
            numbers += values.Length;
            if (numbers > FactorSetReader.MaxNumbers)
                throw new FactorSetException($"{path}: line {lineNumber}: more than {FactorSetReader.MaxNumbers:N0} numbers, {FactorSetReader.MaxNumbersReason}");
            rows.Add((lineNumber, values));
        }
        if (rows.Count == 0) throw new FactorSetException($"{path}: no factors (empty file)");

        float[] factors;
        if (sawComma || rows.All(r => r.Values.Length > 1))
        {
            factors = SingleLayer(rows.Select(r => (r.Line, r.Values)).ToList(), path, "row", "line");
        }
        else
        {
            float[] all = rows.Select(r => r.Values[0]).ToArray();
            int? per = options.ExpectedFactorCount;
            if (per is int n && n > 0 && all.Length > n && all.Length % n == 0)
            {
                var layers = Enumerable.Range(0, all.Length / n).Select(k => (k + 1, all.AsSpan(k * n, n).ToArray())).ToList();
                factors = SingleLayer(layers, path, "layer", "layer");
            }
            else
            {
                factors = all;
            }
        }

        int original = options.OriginalContextLength ?? options.DefaultOriginalContextLength
            ?? throw new FactorSetException($"{path}: a factor CSV carries no context lengths; give the original context length (--original-context, or --model to take the model's)");
        int context = options.ContextLength ?? options.DefaultContextLength
            ?? throw new FactorSetException($"{path}: a factor CSV carries no context lengths; give the extended context length (--context)");
        return FactorSet.Create(factors, FactorSet.Ones(factors.Length), original, context, AttentionFactorPolicy.Su, null,
            $"LongRoPE factor CSV {path}");
    }

    /// <summary>The one factor array of identical per-layer rows; refuses rows that differ (llama.cpp cannot apply them).</summary>
    private static float[] SingleLayer(List<(int Where, float[] Values)> rows, string path, string what, string whereName)
    {
        var first = rows[0];
        for (int r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.Values.Length != first.Values.Length)
                throw new FactorSetException($"{path}: {whereName} {row.Where} has {row.Values.Length} factors, {whereName} {first.Where} has {first.Values.Length}");
            for (int i = 0; i < row.Values.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(row.Values[i]) != BitConverter.SingleToInt32Bits(first.Values[i]))
                    throw new FactorSetException($"{path}: per-layer factors differ ({whereName} {row.Where} [{i}] = {F(row.Values[i])}, {whereName} {first.Where} [{i}] = {F(first.Values[i])}); "
                        + $"llama.cpp applies one factor array to all layers, so {rows.Count} different {what}s cannot be embedded");
            }
        }
        return first.Values;
    }

    private static string F(float f) => f.ToString("R", CultureInfo.InvariantCulture);

    private static string Truncate(string s) => s.Length > 30 ? s[..30] + "..." : s;
}

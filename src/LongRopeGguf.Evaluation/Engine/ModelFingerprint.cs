using System.Security.Cryptography;
using LongRopeGguf.Gguf;

namespace LongRopeGguf.Evaluation.Engine;

/// <summary>
/// What identifies a model file for its results: SHA-256 over its GGUF header (every key, LongRoPE provenance
/// included, and every tensor's name, shape and offset), its LongRoPE factor tensors' data, three 64 KiB samples of
/// its weights (start, middle and end of the data section) and its length; 16 hex digits. Two patches of one model with
/// other factors differ, and so do two quantisations or fine-tunes of one checkpoint with the same header and size
/// (without the samples a search resumed the other model's log); copies and renames of one file do not. Reads the
/// header, two small tensors and 192 KiB, never all the weights.
/// </summary>
public static class ModelFingerprint
{
    private static readonly string[] FactorTensors = ["rope_factors_long.weight", "rope_factors_short.weight"];

    private const long WeightSample = 64 << 10;

    public static string Of(string path)
    {
        var file = GgufReader.Read(path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[1 << 16];
        void Add(long offset, long count)
        {
            while (count > 0)
            {
                int n = RandomAccess.Read(stream.SafeFileHandle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, count)), offset);
                if (n == 0) throw new EndOfStreamException($"{path}: ends inside its header or factor data");
                hash.AppendData(buffer, 0, n);
                offset += n;
                count -= n;
            }
        }
        Add(0, file.DataOffset);
        foreach (string name in FactorTensors)
            if (file.TryGetTensor(name, out var t)) Add(file.AbsoluteOffset(t), (long)t.ByteSize);
        long data = Math.Max(0, file.FileLength - file.DataOffset), sample = Math.Min(WeightSample, data);
        foreach (long at in (long[])[0, (data - sample) / 2, data - sample])
            Add(file.DataOffset + at, sample);
        hash.AppendData(BitConverter.GetBytes(file.FileLength));
        return Convert.ToHexString(hash.GetHashAndReset(), 0, 8).ToLowerInvariant();
    }
}

using System.Text.RegularExpressions;

namespace LongRopeGguf.LongRope;

/// <summary>
/// The tensors llama.cpp's loader for the "llama" architecture creates (src/models/llama.cpp, load_arch_tensors and
/// create_tensor_qkv, then llama-model.cpp's generic pass over per-weight scales). A tensor in the file that the loader
/// does not create makes the load fail with "wrong number of tensors"; a required one it lacks, with "missing tensor".
/// Only this architecture is checked this way: for others the verifier checks the RoPE tensors alone.
/// </summary>
/// <remarks>
/// What the loader creates depends on the file: a layer with a fused <c>attn_qkv.weight</c> gets no separate Q/K/V
/// (a file holding both fails to load), a model with experts gets the router and expert tensors instead of the dense
/// FFN, and each weight present may bring its <c>.scale</c> and <c>.input_scale</c> (FP8/NVFP4 files). Each of these was
/// measured against the llama.cpp LLamaSharp 0.30.0 ships (FailureTableTests); <c>output.scale</c> is not created there.
/// </remarks>
public static partial class LlamaTensorNames
{
    private static readonly string[] s_global = ["token_embd.weight", "output_norm.weight", "output.weight"];

    private static readonly string[] s_separateQkv = ["attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias"];
    private static readonly string[] s_fusedQkv = ["attn_qkv.weight", "attn_qkv.bias"];
    private static readonly string[] s_attention = ["attn_norm.weight", "attn_output.weight", "attn_output.bias", "ffn_norm.weight"];
    private static readonly string[] s_denseFfn = ["ffn_gate.weight", "ffn_down.weight", "ffn_up.weight", "ffn_gate.bias", "ffn_down.bias", "ffn_up.bias"];
    private static readonly string[] s_expertFfn = ["ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_down_exps.weight", "ffn_up_exps.weight"];

    /// <summary>Shared-expert tensors: the loader creates them when n_ff_shexp &gt; 0, which the llama architecture never
    /// reads (only Granite's does), so in a llama model they are extra.</summary>
    private static readonly string[] s_sharedExpertFfn = ["ffn_gate_shexp.weight", "ffn_up_shexp.weight", "ffn_down_shexp.weight"];

    /// <summary>The weights whose presence lets the loader's generic pass create <c>W.scale</c> and <c>W.input_scale</c>.</summary>
    private static readonly string[] s_scaledWeights =
    [
        "attn_q", "attn_k", "attn_v", "attn_qkv", "attn_output", "ffn_gate", "ffn_down", "ffn_up",
        "ffn_gate_exps", "ffn_down_exps", "ffn_up_exps",
    ];

    /// <summary>
    /// The tensors the llama loader requires (created without TENSOR_NOT_REQUIRED) that <paramref name="present"/> lacks,
    /// in load order: token embedding and output norm, then per layer the attention norm, Q/K/V (or the fused QKV),
    /// the attention output, the FFN norm and the FFN (gate/down/up, or with experts the router and the expert
    /// down/up). Without one the load fails with "missing tensor". <paramref name="blockCount"/> is one llama.cpp
    /// accepts (at most 512), so the list stays small.
    /// </summary>
    public static IReadOnlyList<string> MissingRequired(IReadOnlySet<string> present, int blockCount, int expertCount)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)blockCount, LongRopeKeys.MaxLayers, nameof(blockCount));
        var missing = new List<string>();
        void Need(string name) { if (!present.Contains(name)) missing.Add(name); }
        Need("token_embd.weight");
        Need("output_norm.weight");
        for (int i = 0; i < blockCount; i++)
        {
            string b = $"blk.{i}.";
            Need(b + "attn_norm.weight");
            if (!present.Contains(b + "attn_qkv.weight"))
                foreach (string x in (string[])["attn_q.weight", "attn_k.weight", "attn_v.weight"]) Need(b + x);
            Need(b + "attn_output.weight");
            Need(b + "ffn_norm.weight");
            string[] ffn = expertCount > 0 ? ["ffn_gate_inp.weight", "ffn_down_exps.weight", "ffn_up_exps.weight"] : ["ffn_gate.weight", "ffn_down.weight", "ffn_up.weight"];
            foreach (string x in ffn) Need(b + x);
        }
        return missing;
    }

    [GeneratedRegex(@"^blk\.(\d+)\.(.+)$")]
    private static partial Regex BlockTensor();

    /// <summary>
    /// The tensors of <paramref name="present"/> (in its order) that the llama loader does not create for this file, so
    /// that the load fails with "wrong number of tensors", with the reason for each. The RoPE tensors are not judged
    /// here (their rules depend on the scaling type; the verifier checks them).
    /// </summary>
    public static IReadOnlyList<(string Name, string Why)> NotCreated(IReadOnlyList<string> present, int blockCount, int expertCount)
    {
        var names = present.ToHashSet(StringComparer.Ordinal);
        var result = new List<(string, string)>();
        foreach (string name in present)
        {
            if (Array.IndexOf(s_global, name) >= 0) continue;
            var m = BlockTensor().Match(name);
            if (!m.Success) { result.Add((name, "is not one the llama loader creates")); continue; }
            string layer = m.Groups[1].Value, tail = m.Groups[2].Value;
            // The loader names layers blk.0, blk.1, ...: "blk.01" is no layer's name.
            if (!int.TryParse(layer, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) || index.ToString(System.Globalization.CultureInfo.InvariantCulture) != layer)
            {
                result.Add((name, $"is not named as the loader names layers (blk.0, blk.1, ...)"));
                continue;
            }
            if (index >= blockCount)
            {
                result.Add((name, $"is in layer {layer}, past the model's {blockCount} layers ({blockCount} blocks)"));
                continue;
            }
            string? why = WhyNotCreated(tail, $"blk.{layer}.", names, expertCount);
            if (why is not null) result.Add((name, why));
        }
        return result;
    }

    private static string? WhyNotCreated(string tail, string prefix, HashSet<string> present, int expertCount)
    {
        bool fused = present.Contains(prefix + "attn_qkv.weight");
        if (s_separateQkv.Contains(tail))
            return fused ? $"is not created when the layer has a fused {prefix}attn_qkv.weight (the loader reads one or the other)" : null;
        if (s_fusedQkv.Contains(tail))
            return tail == "attn_qkv.bias" && !fused ? $"is not created without {prefix}attn_qkv.weight" : null;
        if (s_attention.Contains(tail)) return null;
        if (s_denseFfn.Contains(tail))
            return expertCount > 0 ? $"is a dense FFN tensor, not created in a model with experts (expert_count {expertCount})" : null;
        if (s_expertFfn.Contains(tail))
            return expertCount > 0 ? null : "is an expert tensor, not created in a model without experts (no expert_count)";
        if (s_sharedExpertFfn.Contains(tail))
            return "is a shared-expert tensor, which the llama loader does not create (it reads no shared expert size)";
        foreach (string suffix in (string[])[".scale", ".input_scale"])
        {
            if (!tail.EndsWith(suffix, StringComparison.Ordinal)) continue;
            string weight = tail[..^suffix.Length];
            if (!s_scaledWeights.Contains(weight)) break;
            string weightName = prefix + weight + ".weight";
            return WhyNotCreated(weight + ".weight", prefix, present, expertCount) is null && present.Contains(weightName)
                ? null
                : $"is created only beside a {weightName} the loader reads";
        }
        return "is not one the llama loader creates";
    }
}

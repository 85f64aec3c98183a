using System.Text.RegularExpressions;

namespace LongRopeGguf.LongRope;

/// <summary>
/// The tensors llama.cpp's loader for the "llama" architecture creates (src/models/llama.cpp, load_arch_tensors, and
/// create_tensor_qkv). A tensor outside this list makes the load fail with "wrong number of tensors". Only this
/// architecture is checked this way: for others the verifier checks the RoPE tensors alone.
/// </summary>
public static partial class LlamaTensorNames
{
    private static readonly HashSet<string> s_global = new(StringComparer.Ordinal)
    {
        "token_embd.weight", "output_norm.weight", "output.weight",
    };

    private static readonly HashSet<string> s_perLayer = new(StringComparer.Ordinal)
    {
        "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_qkv.weight",
        "attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_qkv.bias", "attn_output.weight", "attn_output.bias",
        "ffn_norm.weight", "ffn_gate.weight", "ffn_down.weight", "ffn_up.weight", "ffn_gate.bias", "ffn_down.bias", "ffn_up.bias",
        "ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_down_exps.weight", "ffn_up_exps.weight",
        "ffn_gate_shexp.weight", "ffn_up_shexp.weight", "ffn_down_shexp.weight",
    };

    /// <summary>
    /// The tensors the llama loader requires (created without TENSOR_NOT_REQUIRED) that <paramref name="present"/> lacks,
    /// in load order: token embedding and output norm, then per layer the attention norm, Q/K/V (or the fused QKV),
    /// the attention output, the FFN norm and the FFN (gate/down/up, or with experts the router and the expert
    /// down/up). Without one the load fails with "missing tensor". Empty without a block count (layers unknown).
    /// </summary>
    public static IReadOnlyList<string> MissingRequired(IReadOnlySet<string> present, int? blockCount, int expertCount)
    {
        var missing = new List<string>();
        void Need(string name) { if (!present.Contains(name)) missing.Add(name); }
        if (blockCount is not int blocks) return missing;
        Need("token_embd.weight");
        Need("output_norm.weight");
        for (int i = 0; i < blocks; i++)
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

    /// <summary>Whether the llama loader creates <paramref name="name"/> for a model of <paramref name="blockCount"/>
    /// layers; the RoPE tensors depend on the scaling type (<paramref name="longRope"/>).</summary>
    public static bool IsCreated(string name, int? blockCount, bool longRope)
    {
        if (s_global.Contains(name)) return true;
        if (name == LongRopeKeys.RopeFreqsTensor) return !longRope;
        if (name is LongRopeKeys.LongFactorsTensor or LongRopeKeys.ShortFactorsTensor) return longRope;
        var m = BlockTensor().Match(name);
        if (!m.Success || !s_perLayer.Contains(m.Groups[2].Value)) return false;
        return blockCount is null || (int.TryParse(m.Groups[1].Value, out int layer) && layer < blockCount);
    }
}

using System.Text.Json.Nodes;

namespace LongRopeGguf.Search.Evolution;

/// <summary>
/// Decides whether a search log's header describes the search about to run. Inputs are identified by what they hold,
/// not where they are: a model, text or haystack that moved (another folder, a renamed file, a copy on another machine)
/// resumes its log, while any change to what they hold is refused. The paths stay in the header as a record of where
/// the search first found them.
/// </summary>
public static class SearchIdentity
{
    /// <summary>Fields that decide most about a search, named first when several differ (switching the fitness also
    /// changes the attention range, which the header lists before it).</summary>
    private static readonly string[][] Foremost =
    [
        ["fitness", "kind"], ["fitness", "set"], ["fitness", "target_length"], ["fitness", "model_fingerprint"], ["fitness", "model"],
    ];

    /// <summary>
    /// Copies of the two "search" objects with the locations left out wherever a content identity stands for them:
    /// <c>fitness.model</c> when both hold <c>fitness.model_fingerprint</c> (a log written before the fingerprint keeps
    /// comparing by path, and this search's fingerprint is left out of the comparison with it), <c>fitness.text.path</c>
    /// (its SHA-256 is beside it) and the haystack file's name when both hold its SHA-256.
    /// </summary>
    public static (JsonObject Logged, JsonObject Now) Comparable(JsonObject logged, JsonObject now)
    {
        var (a, b) = (logged.DeepClone().AsObject(), now.DeepClone().AsObject());
        if (a["fitness"] is JsonObject fa && b["fitness"] is JsonObject fb)
        {
            if (fa.ContainsKey("model_fingerprint")) { if (fb.ContainsKey("model_fingerprint")) { fa.Remove("model"); fb.Remove("model"); } }
            else fb.Remove("model_fingerprint");
            if (fa["text"] is JsonObject ta && fb["text"] is JsonObject tb && ta.ContainsKey("sha256") && tb.ContainsKey("sha256"))
            {
                ta.Remove("path");
                tb.Remove("path");
            }
            if (fa["passkey"] is JsonObject pa && fb["passkey"] is JsonObject pb
                && pa["haystack_sha256"] is JsonValue && pb["haystack_sha256"] is JsonValue)
            {
                pa.Remove("haystack");
                pb.Remove("haystack");
            }
        }
        return (a, b);
    }

    /// <summary>The field that differs, by its path into nested objects ('fitness.batch_size'), so that the message
    /// names the setting rather than a cut-off object: one of <see cref="Foremost"/> when it differs, else the first.</summary>
    public static string FirstDifference(JsonObject logged, JsonObject now)
    {
        foreach (var path in Foremost)
        {
            var (old, value) = (At(logged, path), At(now, path));
            if (old is null && value is null) continue;
            if (old?.ToJsonString() != value?.ToJsonString()) return Describe(string.Join('.', path), old, value);
        }
        return FirstDifference(logged, now, "");
    }

    private static JsonNode? At(JsonObject root, string[] path)
    {
        JsonNode? node = root;
        foreach (string name in path) node = node is JsonObject o ? o[name] : null;
        return node;
    }

    private static string FirstDifference(JsonObject logged, JsonObject now, string prefix)
    {
        foreach (var (name, value) in now)
        {
            string path = prefix + name;
            if (!logged.TryGetPropertyValue(name, out var old)) return $"'{path}' is new";
            if (old?.ToJsonString() == value?.ToJsonString()) continue;
            if (old is JsonObject oldObject && value is JsonObject newObject) return FirstDifference(oldObject, newObject, path + ".");
            return Describe(path, old, value);
        }
        foreach (var (name, _) in logged)
            if (!now.ContainsKey(name)) return $"'{prefix + name}' is gone";
        return "the key order differs";
    }

    private static string Describe(string path, JsonNode? old, JsonNode? value)
    {
        if (old is null) return $"'{path}' is new";
        if (value is null) return $"'{path}' is gone";
        static string Short(JsonNode n) { var s = n.ToJsonString(); return s.Length > 80 ? s[..77] + "..." : s; }
        return $"'{path}' was {Short(old)}, now {Short(value)}";
    }
}

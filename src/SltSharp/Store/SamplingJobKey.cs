using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SltSharp.Store;

/// <summary>Computes the unique key of a sampling job from what determines its result.</summary>
public static class SamplingJobKey
{
    /// <summary>
    /// SHA-256 (lower-case hex) over the checkpoint hash, the explicit sampler fields and the canonical sampler
    /// configuration JSON. Canonical means object keys sorted ordinally and no insignificant whitespace; number
    /// literals are kept as written, so <c>1e-3</c> and <c>0.001</c> are different keys.
    /// </summary>
    /// <param name="checkpointSha256">Content hash of the checkpoint w*.</param>
    /// <param name="spec">The job specification.</param>
    public static string Compute(string checkpointSha256, SamplingJobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(checkpointSha256);
        ArgumentNullException.ThrowIfNull(spec);
        var text = new StringBuilder();
        text.Append(checkpointSha256).Append('\n')
            .Append(spec.Sampler).Append('\n')
            .Append(spec.StepSize.ToString("R", CultureInfo.InvariantCulture)).Append('\n')
            .Append(spec.NBeta.ToString("R", CultureInfo.InvariantCulture)).Append('\n')
            .Append(spec.Localization.ToString("R", CultureInfo.InvariantCulture)).Append('\n')
            .Append(spec.Chains).Append('\n')
            .Append(spec.Draws).Append('\n')
            .Append(spec.Burnin).Append('\n')
            .Append(CanonicalJson(spec.SamplerConfigJson));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Re-serialises JSON with object keys sorted ordinally and without whitespace.</summary>
    /// <param name="json">Any JSON document.</param>
    /// <exception cref="ArgumentException">The text is not valid JSON.</exception>
    public static string CanonicalJson(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"The sampler configuration is not valid JSON ({e.Message}).", nameof(json), e);
        }

        return Sorted(node)?.ToJsonString() ?? "null";
    }

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Sorted).ToArray()),
        null => null,
        _ => node.DeepClone(),
    };
}

using System.Numerics;

namespace SltSharp.Models;

internal static class ModelGuards
{
    public static int CheckShapes<T>(int parameterCount, ReadOnlySpan<T> parameters, int chains, ReadOnlySpan<int> batch, Span<T> losses, Span<T> gradients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (chains < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(chains), chains, "At least one chain is needed.");
        }
        if (parameters.Length != chains * parameterCount)
        {
            throw new ArgumentException($"parameters has length {parameters.Length}, expected chains·P = {chains}·{parameterCount}.", nameof(parameters));
        }
        if (losses.Length != chains)
        {
            throw new ArgumentException($"losses has length {losses.Length}, expected one per chain ({chains}).", nameof(losses));
        }
        if (!gradients.IsEmpty && gradients.Length != chains * parameterCount)
        {
            throw new ArgumentException($"gradients has length {gradients.Length}, expected chains·P = {chains * parameterCount} or 0.", nameof(gradients));
        }
        if (batch.Length % chains != 0)
        {
            throw new ArgumentException($"batch has length {batch.Length}, not a multiple of the chain count {chains}.", nameof(batch));
        }
        return batch.Length / chains;
    }
}

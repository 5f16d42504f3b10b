using System.Numerics;

namespace SltSharp.Sampling;

/// <summary>
/// A chained loss that can make independent replicas of itself, so that groups of chains can run on separate threads.
/// </summary>
/// <remarks>
/// A replica shares read-only data (the dataset) with its original but owns every scratch buffer, so two replicas can be
/// evaluated concurrently. A replica must compute bit-identical values to the original for the same inputs.
/// </remarks>
public interface IReplicableChainedLoss<T> : IChainedLoss<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A new instance over the same data with its own buffers.</summary>
    IChainedLoss<T> CreateReplica();
}

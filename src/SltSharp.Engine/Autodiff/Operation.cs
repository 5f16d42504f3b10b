using System.Numerics;

namespace SltSharp.Engine.Autodiff;

/// <summary>
/// The backward rule of one op. Forward kernels run eagerly when the op is recorded (in the op's extension method);
/// the tape only needs to know how to push a node's gradient to its inputs.
/// </summary>
/// <remarks>
/// Each op is a stateless singleton (<c>static readonly</c> per element type): per-step data (saved statistics,
/// indices, scalars) lives in the node's reusable fields, so recording an op allocates nothing.
/// Every rule ACCUMULATES into its inputs' gradients (a value may feed several ops) and skips inputs that do not
/// require a gradient.
/// </remarks>
internal abstract class Operation<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public abstract string Name { get; }

    public abstract void Backward(Node<T> node);
}

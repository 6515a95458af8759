namespace SharpGrad.Generator.Tests.Support;

/// <summary>Models for the graph compiler's tests: they use the real SharpGrad.Layers and opt in with [Shape].</summary>
internal static class CompilerSources
{
    /// <summary>An MLP for MNIST-sized inputs: both field-initialiser forms, a local, Functional.Relu.</summary>
    public const string Mlp = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Mlp
        {
            private readonly Linear fc1 = new(784, 256);
            private readonly Linear fc2 = new Linear(256, 10);

            public Tensor Forward([Shape("N", 784)] Tensor x)
            {
                var h = Functional.Relu(fc1.Forward(x));
                return fc2.Forward(h);
            }
        }
        """;

    /// <summary>The CNN of DESIGN.md §2: conv with named arguments, pooling, a View with a folded constant.</summary>
    public const string Cnn = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Cnn
        {
            readonly Conv2d conv1 = new(3, 32, kernelSize: 3, stride: 1, padding: 1);
            readonly MaxPool2d pool = new(2);
            readonly Linear dense1 = new(32 * 4 * 4, 64);
            readonly Linear dense2 = new(64, 10);

            public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)
            {
                var h = pool.Forward(Functional.Relu(conv1.Forward(x)));
                h = h.View(-1, 32 * 4 * 4);
                return dense2.Forward(Functional.Relu(dense1.Forward(h)));
            }
        }
        """;

    /// <summary>A model with a nested [Module] child (not shape-checked itself), a residual add, if (Training), a reduction, and a [Compiled] loss.</summary>
    public const string Nested = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Block
        {
            private readonly Linear fc = new(64, 64);

            public Tensor Forward(Tensor x) => Functional.Relu(fc.Forward(x)) + x;
        }

        [Module]
        public partial class Outer
        {
            private readonly Linear stem = new(16, 64);
            private readonly Block block = new();
            private readonly Dropout drop = new(0.1);

            public Tensor Forward([Shape("N", 16)] Tensor x)
            {
                var h = block.Forward(stem.Forward(x));
                if (Training) h = drop.Forward(h);
                return (h * 2f).Sum(1, keepDim: true);
            }

            [Compiled]
            public Tensor Loss([Shape("N", 16)] Tensor x, [Shape("N", 1)] Tensor target) => Losses.Mse(Forward(x), target);
        }
        """;

    /// <summary>A CNN built from a Sequential field initialiser (conv, BatchNorm, ReLU, pooling) with a [Compiled] cross-entropy loss.</summary>
    public const string SequentialCnn = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class SeqCnn
        {
            private readonly Sequential features = new(new Conv2d(1, 8, 3, padding: 1), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2));
            private readonly Linear head = new(8 * 14 * 14, 10);

            public Tensor Forward([Shape("N", 1, 28, 28)] Tensor x) => head.Forward(features.Forward(x).Flatten(1));

            [Compiled]
            public Tensor Loss([Shape("N", 1, 28, 28)] Tensor x, [Shape("N")] Tensor target) => Losses.CrossEntropy(Forward(x), target);
        }
        """;
}

namespace SharpGrad.Generator.Tests.Support;

/// <summary>Representative modules the generator tests compile. They define their own tiny layers, so they do not depend on SharpGrad.Layers.</summary>
internal static class TestSources
{
    /// <summary>Tiny stand-ins for Conv2d and Linear: [Module] classes with Parameter properties.</summary>
    public const string Layers = """
        using SharpGrad;

        namespace Demo.Layers;

        [Module]
        public sealed partial class Conv2d
        {
            public Conv2d(int inChannels, int outChannels, int kernelSize)
            {
                Weight = new Parameter(Tensor.Zeros(outChannels, inChannels, kernelSize, kernelSize));
                Bias = new Parameter(Tensor.Zeros(outChannels));
            }

            public Parameter Weight { get; }

            public Parameter? Bias { get; }

            public Tensor Forward(Tensor input) => input;
        }

        [Module]
        public sealed partial class Linear
        {
            public Linear(int inFeatures, int outFeatures)
            {
                Weight = new Parameter(Tensor.Zeros(outFeatures, inFeatures));
                Bias = new Parameter(Tensor.Zeros(outFeatures));
            }

            public Parameter Weight { get; }

            public Parameter? Bias { get; }

            public Tensor Forward(Tensor input) => input;
        }

        [Module]
        public sealed partial class ReLU
        {
            public Tensor Forward(Tensor input) => input;
        }
        """;

    /// <summary>A CNN-like model: conv and linear fields, a nested [Module] block holding an array of layers, and a two-input Forward overload.</summary>
    public const string Cnn = """
        using SharpGrad;
        using Demo.Layers;

        namespace Demo;

        [Module]
        public partial class Net
        {
            private readonly Conv2d conv1 = new(3, 8, kernelSize: 3);
            private readonly ResidualBlock denseBlock = new();
            private readonly Linear fc1 = new(8, 16);
            private readonly Linear fc2 = new(16, 10);

            public Tensor Forward(Tensor x) => fc2.Forward(fc1.Forward(denseBlock.Forward(conv1.Forward(x))));

            public Tensor Forward(Tensor x, Tensor skip) => Forward(x) + skip;
        }

        [Module(Compile = false)] // the switch under test: not parsed, a call the parent does not see into (the foreach itself would compile)
        internal partial class ResidualBlock
        {
            private readonly Linear[] layers = [new(8, 8), new(8, 8)];
            private readonly ReLU activation = new();

            public Tensor Forward(Tensor x)
            {
                var h = x;
                foreach (var layer in layers) h = activation.Forward(layer.Forward(h));
                return h + x;
            }
        }
        """;

    /// <summary>A layer with Parameter properties, a nullable bias, buffers, and fields named with _ and m_ prefixes.</summary>
    public const string Norm = """
        using SharpGrad;

        namespace Demo.Layers;

        [Module]
        public sealed partial class BatchNormLike
        {
            private readonly Tensor m_scratch = Tensor.Zeros(1);

            public BatchNormLike(int features, bool affine = true)
            {
                if (affine)
                {
                    Weight = new Parameter(Tensor.Ones(features));
                    Bias = new Parameter(Tensor.Zeros(features));
                }
                RunningMean = Tensor.Zeros(features);
                RunningVar = Tensor.Ones(features);
            }

            public Parameter? Weight { get; }

            public Parameter? Bias { get; }

            [Buffer]
            public Tensor RunningMean { get; }

            [Buffer]
            public Tensor RunningVar { get; }

            [Buffer]
            private readonly Tensor _numBatchesTracked = Tensor.Zeros(1);

            public int Features => RunningMean.Shape[0];

            public Tensor Forward(Tensor input) => input - RunningMean;
        }
        """;

    /// <summary>A [Sequential] class nested in a static partial class, with a nullable child and an array of children.</summary>
    public const string Features = """
        using SharpGrad;
        using Demo.Layers;

        namespace Demo;

        public static partial class Blocks
        {
            [Sequential]
            public partial class Features
            {
                private readonly Conv2d conv1 = new(3, 8, 3);
                private readonly ReLU relu1 = new();
                private readonly Conv2d? optionalConv;
                private readonly ReLU[] tail = [new(), new()];

                public Features(bool withOptionalConv = false)
                {
                    if (withOptionalConv) optionalConv = new(8, 8, 3);
                }

                public Parameter Scale { get; } = new(Tensor.Ones(1));
            }
        }
        """;
}

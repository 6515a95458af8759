namespace SharpGrad.Analyzers.Tests;

/// <summary>
/// The surface of SharpGrad's API the analyzers look at, as source: the tests do not depend on the runtime assembly,
/// only on its names (the analyzers resolve types by metadata name).
/// </summary>
public static class Stubs
{
    public const string SharpGrad = """
        #nullable enable
        using System;
        using System.Collections.Generic;

        namespace SharpGrad
        {
            public enum DType { Float32, Float64, Int64 }
            public sealed class Rng { }

            public class Tensor
            {
                public static Tensor Zeros(params int[] shape) => new Tensor();
                public static Tensor Zeros(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false) => new Tensor();
                public static Tensor Ones(params int[] shape) => new Tensor();
                public static Tensor Ones(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false) => new Tensor();
                public static Tensor Rand(params int[] shape) => new Tensor();
                public static Tensor Rand(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false, Rng? rng = null) => new Tensor();
                public static Tensor Randn(params int[] shape) => new Tensor();
                public static Tensor Randn(int[] shape, DType dtype = DType.Float32, bool requiresGrad = false, Rng? rng = null) => new Tensor();
                public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, bool requiresGrad = false) => new Tensor();
                public static Tensor FromArray(float[] data, params int[] shape) => new Tensor();
                public static Tensor Scalar(float value, bool requiresGrad = false) => new Tensor();

                public int[] Shape => new int[0];
                public bool RequiresGrad { get; set; }
                public bool IsLeaf => true;
                public Tensor? Grad => null;
                public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false) { }
                public Tensor RetainGrad() => this;
                public Tensor Detach() => new Tensor();
                public Tensor Detach_() => this;
                public Tensor RequiresGrad_(bool requiresGrad = true) => this;

                public Tensor Sum() => new Tensor();
                public Tensor Sum(int dim, bool keepDim = false) => new Tensor();
                public Tensor Mean() => new Tensor();
                public Tensor ArgMax(int dim) => new Tensor();
                public float Item() => 0f;
                public float[] ToArray() => new float[0];

                public Tensor View(params int[] shape) => new Tensor();
                public Tensor Reshape(params int[] shape) => new Tensor();
                public Tensor Transpose(int dim0, int dim1) => new Tensor();
                public Tensor T() => new Tensor();
                public Tensor Permute(params int[] dims) => new Tensor();
                public Tensor Contiguous() => this;
                public Tensor Clone() => new Tensor();

                public Tensor Add(Tensor other) => new Tensor();
                public Tensor Add(float other) => new Tensor();
                public Tensor Mul(Tensor other) => new Tensor();
                public Tensor Mul(float other) => new Tensor();
                public Tensor MatMul(Tensor other) => new Tensor();
                public Tensor Exp() => new Tensor();
                public Tensor Log() => new Tensor();
                public Tensor Sigmoid() => new Tensor();
                public Tensor Tanh() => new Tensor();
                public Tensor Relu() => new Tensor();
                public Tensor Softmax(int dim) => new Tensor();
                public Tensor LogSoftmax(int dim) => new Tensor();
                public static Tensor Stack(IEnumerable<Tensor> tensors, int dim = 0) => new Tensor();
                public Tensor Eq(Tensor other) => new Tensor();

                public Tensor Add_(Tensor other) => this;
                public Tensor Add_(float other) => this;
                public Tensor Mul_(Tensor other) => this;
                public Tensor Mul_(float other) => this;
                public Tensor Relu_() => this;
                public Tensor Zero_() => this;

                public static Tensor operator +(Tensor a, Tensor b) => new Tensor();
                public static Tensor operator +(Tensor a, float b) => new Tensor();
                public static Tensor operator -(Tensor a, Tensor b) => new Tensor();
                public static Tensor operator -(Tensor a, float b) => new Tensor();
                public static Tensor operator *(Tensor a, Tensor b) => new Tensor();
                public static Tensor operator *(Tensor a, float b) => new Tensor();
                public static Tensor operator *(float a, Tensor b) => new Tensor();
                public static Tensor operator /(Tensor a, Tensor b) => new Tensor();
                public static Tensor operator /(Tensor a, float b) => new Tensor();
                public static Tensor operator -(Tensor a) => new Tensor();
            }

            public sealed class Parameter : Tensor
            {
                public Parameter(Tensor data, bool requiresGrad = true) { }
            }

            public readonly struct GradModeScope : IDisposable
            {
                public void Dispose() { }
            }

            public static class Autograd
            {
                public static GradModeScope NoGrad() => default;
                public static GradModeScope EnableGrad() => default;
                public static GradModeScope SetGradEnabled(bool enabled) => default;
                public static Tensor Grad(Tensor output, Tensor input) => new Tensor();
            }

            public static class Functional
            {
                public static Tensor Relu(Tensor x) => new Tensor();
                public static Tensor Softmax(Tensor x, int dim) => new Tensor();
                public static Tensor LogSoftmax(Tensor x, int dim) => new Tensor();
                public static Tensor Sigmoid(Tensor x) => new Tensor();
            }

            public static class Losses
            {
                public static Tensor Mse(Tensor input, Tensor target) => new Tensor();
                public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100, double labelSmoothing = 0.0) => new Tensor();
                public static Tensor Nll(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100) => new Tensor();
                public static Tensor BinaryCrossEntropy(Tensor input, Tensor target, Tensor? weight = null) => new Tensor();
                public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight = null, Tensor? posWeight = null) => new Tensor();
            }

            [AttributeUsage(AttributeTargets.Parameter | AttributeTargets.ReturnValue | AttributeTargets.Field, Inherited = false)]
            public sealed class ShapeAttribute : Attribute
            {
                public ShapeAttribute(params object[] dims) => Dims = dims;
                public object[] Dims { get; }
            }

            [AttributeUsage(AttributeTargets.Class, Inherited = false)]
            public sealed class ModuleAttribute : Attribute { public bool Compile { get; set; } = true; }

            [AttributeUsage(AttributeTargets.Class, Inherited = false)]
            public sealed class SequentialAttribute : Attribute { }

            [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property, Inherited = false)]
            public sealed class BufferAttribute : Attribute { }

            public abstract class Module
            {
                public bool Training { get; private set; } = true;
                public Module Train(bool mode = true) { Training = mode; return this; }
                public Module Eval() => Train(false);
                public void ZeroGrad(bool setToNone = true) { }
                public IEnumerable<Tensor> Parameters(bool recurse = true) => new Tensor[0];
                public IEnumerable<Tensor> Buffers(bool recurse = true) => new Tensor[0];
                public Tensor Call(params Tensor[] inputs) => new Tensor();
            }
        }

        namespace SharpGrad.Layers
        {
            public class Sequential : Module
            {
                public Sequential() { }
                public Sequential(params Module[] modules) { }
                public Sequential(params (string Name, Module Module)[] modules) { }
                public Sequential Add(string name, Module module) => this;
                public Sequential Append(Module module) => this;
                public Tensor Forward(Tensor input) => input;
            }

            public class ModuleList<T> : Module where T : Module
            {
                public ModuleList(params T[] modules) { }
                public ModuleList<T> Append(T module) => this;
                public ModuleList<T> Extend(IEnumerable<T> modules) => this;
            }

            public class ModuleList : ModuleList<Module>
            {
                public ModuleList(params Module[] modules) { }
            }

            [Module]
            public sealed class Linear : Module
            {
                public Linear(int inFeatures, int outFeatures, bool bias = true) { }
                public Parameter Weight { get; } = new Parameter(new Tensor());
                public Parameter? Bias { get; }
                public Tensor Forward(Tensor input) => new Tensor();
            }

            [Module]
            public sealed class ReLU : Module
            {
                public Tensor Forward(Tensor input) => new Tensor();
            }

            [Module]
            public sealed class LSTM : Module
            {
                public LSTM(int inputSize, int hiddenSize) { }
                public Parameter WeightIh { get; } = new Parameter(new Tensor());
                public (Tensor Output, (Tensor H, Tensor C) State) Forward(Tensor input) => (input, (input, input));
            }

            [Module]
            public sealed class Dropout : Module
            {
                public Dropout(double p = 0.5) { }
                public Tensor Forward(Tensor input) => new Tensor();
            }

            [Module]
            public sealed class BatchNorm1d : Module
            {
                public BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true) { }
                public Parameter? Weight { get; }
                public Parameter? Bias { get; }
                [Buffer] public Tensor? RunningMean { get; }
                public Tensor Forward(Tensor input) => new Tensor();
            }

            [Module]
            public sealed class Softmax : Module
            {
                public Softmax(int dim) { }
                public Tensor Forward(Tensor input) => new Tensor();
            }

            [Module]
            public sealed class LogSoftmax : Module
            {
                public LogSoftmax(int dim) { }
                public Tensor Forward(Tensor input) => new Tensor();
            }

            [Module]
            public sealed class Sigmoid : Module
            {
                public Tensor Forward(Tensor input) => new Tensor();
            }

            [Module]
            public sealed class CrossEntropyLoss : Module
            {
                public Tensor Forward(Tensor input, Tensor target) => new Tensor();
            }

            [Module]
            public sealed class BCEWithLogitsLoss : Module
            {
                public Tensor Forward(Tensor input, Tensor target) => new Tensor();
            }
        }

        namespace SharpGrad.Optimizers
        {
            public abstract class Optimizer
            {
                public void Step() { }
                public void ZeroGrad(bool setToNone = true) { }
                public void AddParamGroup(IEnumerable<Tensor> parameters) { }
            }

            public sealed class SGD : Optimizer
            {
                public SGD(IEnumerable<Tensor> parameters, float lr) { }
            }

            public sealed class Adam : Optimizer
            {
                public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3) { }
            }
        }
        """;

    /// <summary>Wraps statements in a class with SharpGrad's usings: <c>class C { void M() { … } }</c>.</summary>
    public static string Method(string body, string members = "") => $$"""
        using System;
        using SharpGrad;
        using SharpGrad.Layers;
        using SharpGrad.Optimizers;

        class C
        {
            void M()
            {
        {{Indent(body, 8)}}
            }
        {{Indent(members, 4)}}
        }

        """;

    private static string Indent(string text, int spaces)
    {
        var pad = new string(' ', spaces);
        var lines = text.Trim('\n').Split('\n');
        return string.Join("\n", System.Linq.Enumerable.Select(lines, l => l.Length == 0 ? l : pad + l));
    }
}

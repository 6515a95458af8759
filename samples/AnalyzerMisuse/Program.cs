// Every method below makes one autograd mistake on purpose; the SharpGrad analyzers flag each one at build time.
// Build with `dotnet build samples/AnalyzerMisuse` and read the warnings; docs/diagnostics/SG20xx.md explains each rule.
using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

using AnalyzerMisuse;

// Built, the sample shows the warnings. Run, it shows that the runtime fails exactly where the analyzers said it would.
Console.WriteLine("Build this sample to see the SG2xxx warnings; running it shows the run-time failures they predict:");
Run("SG2001", () => Misuse.NonScalarBackward(new Affine(4, 1f), Tensor.Randn([2, 4], requiresGrad: true)));
Run("SG2002", Misuse.GradOfNonLeaf);
Run("SG2003", Misuse.SecondBackward);
Run("SG2005", () => Misuse.ViewOfTransposed());
Run("SG2007", Misuse.InPlaceOnSaved);
Run("SG2013", Misuse.BackwardWithoutGraph);
Run("SG2014", () => Console.WriteLine($"SG2014: the head added after the optimizer still has its initial weights: {Misuse.HeadNeverTrained()}"));

static void Run(string id, Action misuse)
{
    try
    {
        misuse();
        Console.WriteLine($"{id}: no exception (the mistake is silent at run time)");
    }
    catch (Exception e)
    {
        Console.WriteLine($"{id}: {e.GetType().Name}: {e.Message}");
    }
}

namespace AnalyzerMisuse
{
    /// <summary>A tiny model of our own (y = x * w + b), so the sample needs no layer from the library.</summary>
    public sealed class Affine : Module
    {
        public Affine(int features, float scale)
        {
            Weight = new Parameter(Tensor.Full([features], scale));
            Bias = new Parameter(Tensor.Zeros(features));
        }

        public Parameter Weight { get; }

        public Parameter Bias { get; }

        [return: Shape("N", 4)]
        public Tensor Forward([Shape("N", 4)] Tensor x) => x * Weight + Bias;
    }

    public static class Misuse
    {
        // SG2001: the loss is a [N, 4] tensor, not a scalar.
        public static void NonScalarBackward(Affine model, [Shape("N", 4)] Tensor x)
        {
            var logits = model.Forward(x);
            logits.Backward();
        }

        // SG2002: y is an op's result; its Grad stays null without RetainGrad().
        public static void GradOfNonLeaf()
        {
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x * 2f;
            y.Sum().Backward();
            Console.WriteLine(y.Grad is null ? "y.Grad is null" : "y.Grad is set");
        }

        // SG2003: the first Backward() freed what the product saved.
        public static void SecondBackward()
        {
            var x = Tensor.Randn([3], requiresGrad: true);
            var loss = (x * x).Sum();
            loss.Backward();
            loss.Backward();
        }

        // SG2004: gradients pile up across epochs.
        public static void MissingZeroGrad(Affine model, Tensor x, Tensor target)
        {
            var optimizer = new Sgd(model.Parameters(), lr: 0.1);
            for (int epoch = 0; epoch < 10; epoch++)
            {
                var loss = ((model.Forward(x) - target) * (model.Forward(x) - target)).Mean();
                loss.Backward();
                optimizer.Step();
            }
        }

        // SG2005: a transposed tensor cannot be flattened by View.
        public static Tensor ViewOfTransposed()
        {
            var images = Tensor.Randn(2, 3, 4);
            return images.Transpose(1, 2).View(-1);
        }

        // SG2006: w holds the product, a non-leaf; an optimizer given w would never see a gradient.
        public static Tensor NonLeafWeight()
        {
            var w = Tensor.Randn([3, 4], requiresGrad: true) * 0.01f;
            return w;
        }

        // SG2007: the product saved h for the backward; Add_ changes it first.
        public static void InPlaceOnSaved()
        {
            var x = Tensor.Randn([3], requiresGrad: true);
            var w = Tensor.Randn([3], requiresGrad: true);
            var h = x * 2f;
            var y = h * w;
            h.Add_(1f);
            y.Sum().Backward();
        }

        // SG2008: inference that records a graph for nothing, in training mode.
        public static float Predict(Affine model, Tensor x)
        {
            var scores = model.Forward(x);
            return scores.Sum().Item();
        }

        // SG2009: constant layers assembled at run time; as fields of a [Module] class they would be compiled.
        public static Sequential BuildNet() => new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 1));

        // SG2010: each epoch ends with an evaluation, and the next one trains in eval mode (no model.Train()).
        public static void TrainingInEvalMode(Affine model, Tensor x, Tensor target)
        {
            var optimizer = new Sgd(model.Parameters(), lr: 0.1);
            for (int epoch = 0; epoch < 3; epoch++)
            {
                for (int step = 0; step < 10; step++)
                {
                    optimizer.ZeroGrad();
                    Losses.Mse(model.Forward(x), target).Backward();
                    optimizer.Step();
                }
                model.Eval();
                using (Autograd.NoGrad()) Console.WriteLine(Losses.Mse(model.Forward(x), target).Item());
            }
        }

        // SG2011: the running total records every step's graph and keeps it alive.
        public static float AccumulatedLoss(Affine model, Tensor x, Tensor target)
        {
            var optimizer = new Sgd(model.Parameters(), lr: 0.1);
            var total = Tensor.Zeros(1);
            for (int step = 0; step < 10; step++)
            {
                optimizer.ZeroGrad();
                var loss = Losses.Mse(model.Forward(x), target);
                loss.Backward();
                optimizer.Step();
                total += loss;
            }
            return total.Item() / 10;
        }

        // SG2012: CrossEntropy applies LogSoftmax itself; the Softmax makes it twice.
        public static Tensor SoftmaxIntoCrossEntropy(Tensor logits, Tensor labels)
            => Losses.CrossEntropy(logits.Softmax(1), labels);

        // SG2013: computed inside NoGrad, the loss has no graph to go back through.
        public static void BackwardWithoutGraph()
        {
            var w = Tensor.Randn([3], requiresGrad: true);
            Tensor loss;
            using (Autograd.NoGrad())
            {
                loss = (w * w).Sum();
            }
            loss.Backward();
        }

        // SG2014: the head joins the model after the optimizer took its parameter list: it is never trained.
        public static bool HeadNeverTrained()
        {
            var x = Tensor.Randn([8, 4]);
            var model = new Sequential();
            model.Add("body", new Linear(4, 4));
            var optimizer = new Sgd(model.Parameters(), lr: 0.1);
            model.Add("head", new Linear(4, 1));
            var before = model["head"].Parameters().First().ToArray();
            for (int step = 0; step < 10; step++)
            {
                optimizer.ZeroGrad();
                Losses.Mse(model.Forward(x), Tensor.Ones([8, 1])).Backward();
                optimizer.Step();
            }
            return before.SequenceEqual(model["head"].Parameters().First().ToArray());
        }
    }
}

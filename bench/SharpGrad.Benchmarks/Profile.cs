using System.Globalization;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `profile`: times the parts of the small workloads (kernel alone vs. the op vs. the layer; forward, loss, backward and
/// step of a training step) and the bytes allocated per call, to see where eager mode loses its time.
/// </summary>
public static class Profile
{
    public static int Run(string[] args)
    {
        int threads = args.Length >= 2 && args[0] == "--threads" ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        Parallelism.MaxThreads = threads;
        Rng.ManualSeed(0);
        void Line(string what, Action body, int iters)
        {
            body();
            long before = GC.GetAllocatedBytesForCurrentThread();
            int gc0 = GC.CollectionCount(0);
            double us = Workloads.MicrosPerCall(body, iters);
            long bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / (iters * 3 + Math.Max(3, iters / 10));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{what,-52} {us,10:F1} us  {bytes,9} B/call  gen0 GCs {GC.CollectionCount(0) - gc0}"));
        }

        Console.WriteLine($"threads={threads}");
        // mlp_infer_b1, piece by piece
        var w1 = new float[256 * 784]; var x1 = new float[784]; var y1 = new float[256];
        
        Line("sgemm 1x784 · (256x784)ᵀ (fc1 kernel, b1)", () => Gemm.Sgemm(false, true, 1, 256, 784, 1f, x1, 0, 784, w1, 0, 784, 0f, y1, 0, 256), 5000);
        var mlp = Workloads.Mlp();
        mlp.Eval();
        var x = Tensor.Rand(1, 784);
        var fc1 = new Layers.Linear(784, 256);
        using (Autograd.NoGrad())
        {
            Line("Linear(784,256) forward b1, no grad", () => fc1.Forward(x), 5000);
            var h = fc1.Forward(x);
            Line("ReLU [1,256], no grad", () => h.Relu(), 5000);
            Line("MLP forward b1, no grad (mlp_infer_b1)", () => mlp.Forward(x), 5000);
        }

        var net1 = new MlpNet();
        net1.Eval();
        var c1 = net1.Compile();
        Line("compiled MLP forward b1, no grad (mlp_infer_b1)", () => Workloads.MlpInferCompiled(c1, x), 5000);
        var w2 = new float[128 * 256]; var y2 = new float[128];
        Line("sgemm 1x256 · (128x256)ᵀ (fc2 kernel, b1)", () => Gemm.Sgemm(false, true, 1, 128, 256, 1f, y1, 0, 256, w2, 0, 256, 0f, y2, 0, 128), 5000);

        // mlp_train_step_b64, piece by piece
        var net = Workloads.Mlp();
        var opt = new Sgd(net.Parameters(), 0.01);
        var xb = Tensor.Rand(64, 784);
        var yb = Tensor.RandInt(0, 10, [64]);
        var wa = new float[64 * 784]; var wb = new float[256 * 784]; var wc = new float[64 * 256];
        Line("sgemm 64x784 · (256x784)ᵀ (fc1 forward kernel)", () => Gemm.Sgemm(false, true, 64, 256, 784, 1f, wa, 0, 784, wb, 0, 784, 0f, wc, 0, 256), 300);
        Line("sgemm (64x256)ᵀ · 64x784 (fc1 weight-grad kernel)", () => Gemm.Sgemm(true, false, 256, 784, 64, 1f, wc, 0, 256, wa, 0, 784, 0f, wb, 0, 784), 300);
        Line("train b64: forward", () => net.Forward(xb), 300);
        Line("train b64: forward + loss", () => Losses.CrossEntropy(net.Forward(xb), yb), 300);
        Line("train b64: zero_grad + forward + loss + backward", () => { opt.ZeroGrad(); Losses.CrossEntropy(net.Forward(xb), yb).Backward(); }, 300);
        var netc = new MlpNet();
        var cc = netc.Compile();
        var optc = new Sgd(netc.Parameters(), 0.01);
        Line("compiled train b64: forward", () => cc.Forward(xb), 300);
        Line("compiled train b64: forward + loss + backward", () => { optc.ZeroGrad(); Losses.CrossEntropy(cc.Forward(xb), yb).Backward(); }, 300);
        Line("compiled train b64: full step, tape (Forward + eager loss)", () => Workloads.MlpTrainStepCompiledTape(cc, optc, xb, yb), 300);
        Line("compiled train b64: LossBackward only", () => cc.LossBackward(xb, yb), 300);
        Line("compiled train b64: full step (LossBackward)", () => Workloads.MlpTrainStepCompiled(cc, optc, xb, yb), 300);
        Line("train b64: full step (mlp_train_step_b64)", () => { opt.ZeroGrad(); Losses.CrossEntropy(net.Forward(xb), yb).Backward(); opt.Step(); }, 300);

        // cnn_train_step_b32, piece by piece
        var cnn = Workloads.Cnn();
        var copt = new Sgd(cnn.Parameters(), 0.01);
        var xc = Tensor.Rand(32, 1, 28, 28);
        var yc = Tensor.RandInt(0, 10, [32]);
        Line("cnn b32: forward", () => cnn.Forward(xc), 50);
        var cnnc = new CnnNet();
        var ccnn = cnnc.Compile();
        var coptc = new Sgd(cnnc.Parameters(), 0.01);
        Line("compiled cnn b32: forward", () => ccnn.Forward(xc), 50);
        Line("compiled cnn b32: full step", () => Workloads.CnnTrainStepCompiled(ccnn, coptc, xc, yc), 50);
        Line("cnn b32: full step (cnn_train_step_b32)", () => { copt.ZeroGrad(); Losses.CrossEntropy(cnn.Forward(xc), yc).Backward(); copt.Step(); }, 50);
        return 0;
    }
}

// Trains a small MLP to tell two interleaved spirals apart, then saves it.
//   dotnet run                   trains in compiled mode (the forward and backward the generator wrote at build time)
//   dotnet publish -c Release    a NativeAOT executable (PublishAot is on in the project)
using System.Globalization;
using SharpGrad;
using SharpGrad.Data;
using SharpGrad.Optimizers;
using SharpGradConsole;

Rng.ManualSeed(0);
var (x, y) = Spirals(1000, new Rng(1));
var (xTest, yTest) = Spirals(400, new Rng(2));

var model = new Classifier();
var net = model.Compile();
var optimizer = new Adam(model.Parameters(), lr: 0.01);
var loader = new DataLoader(new TensorDataset(x, y), batchSize: 50, shuffle: true, seed: 0);
const int Epochs = 60;
for (int epoch = 1; epoch <= Epochs; epoch++)
{
    model.Train();
    double sum = 0;
    int batches = 0;
    foreach (var batch in loader)
    {
        optimizer.ZeroGrad();
        var loss = Losses.CrossEntropy(net.Forward(batch[0]), batch[1]);
        loss.Backward();
        optimizer.Step();
        sum += loss.Item();
        batches++;
    }
    if (epoch == 1 || epoch % 10 == 0)
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch,3}  loss {sum / batches:F4}"));
}

model.Eval();
float accuracy;
using (Autograd.NoGrad())
    accuracy = net.Forward(xTest).ArgMax(1).Eq(yTest).To(DType.Float32).Mean().Item();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {accuracy:F3}"));
model.Save("model.safetensors");
Console.WriteLine("saved model.safetensors (fc1.weight, fc1.bias, …: PyTorch's state-dict names)");

// Two spirals of n/2 points each, with a little noise: inputs [n, 2], labels [n] (0 or 1).
static (Tensor X, Tensor Y) Spirals(int n, Rng rng)
{
    var points = new float[n * 2];
    var labels = new long[n];
    for (int i = 0; i < n; i++)
    {
        int label = i % 2;
        double r = rng.NextDouble(), angle = 3 * Math.PI * r + label * Math.PI;
        points[2 * i] = (float)(r * Math.Cos(angle) + 0.03 * rng.NextNormal());
        points[2 * i + 1] = (float)(r * Math.Sin(angle) + 0.03 * rng.NextNormal());
        labels[i] = label;
    }
    return (Tensor.FromArray(points, n, 2), Tensor.FromArray(labels, n));
}

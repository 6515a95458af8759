using SharpGrad.Kernels;
using SharpGrad.Layers;

namespace SharpGrad;

// Glue of compiled recurrent layers: the layer's weights as arrays for the shared kernels (Kernels/RecurrentStack.cs).
public static partial class CompiledSupport
{
    /// <summary>The weights of a recurrent layer (w_ih, w_hh, b_ih, b_hh per layer and direction), checked against the program's shape.</summary>
    private static float[][] RecurrentWeights(RNNBase module, in RecurrentShape shape)
    {
        var all = module.AllWeights;
        if (all.Count != shape.NumLayers * shape.Directions || module.HiddenSize != shape.HiddenSize || module.InputSize != shape.InputSize)
        {
            throw new InvalidOperationException(
                $"Compiled program: the {module.GetType().Name} has input_size {module.InputSize}, hidden_size {module.HiddenSize} and {all.Count} " +
                $"layer-directions, but the program was generated for {shape.InputSize}, {shape.HiddenSize} and {shape.NumLayers * shape.Directions}; rebuild the project.");
        }
        var weights = new float[all.Count * shape.WeightsPerDirection][];
        for (int i = 0; i < all.Count; i++)
        {
            for (int k = 0; k < shape.WeightsPerDirection; k++) weights[i * shape.WeightsPerDirection + k] = Dense(all[i][k]);
        }
        return weights;
    }

    /// <summary>A compiled RNN/LSTM/GRU's output sequence for zero initial states (<see cref="RecurrentStack.Forward"/>).</summary>
    public static void RecurrentForward(RNNBase module, float[] input, float[] output, int n, RecurrentShape shape, RecurrentWorkspace workspace)
    {
        ArgumentNullException.ThrowIfNull(module);
        RecurrentStack.Forward(shape, input, output, n, RecurrentWeights(module, shape), workspace);
    }

    /// <summary>Its backward: the input's gradient added into <paramref name="gradInput"/>, each weight's into <paramref name="weightGrads"/>.</summary>
    public static void RecurrentBackward(RNNBase module, float[] gradOutput, float[]? gradInput, float[]?[] weightGrads, int n, RecurrentShape shape,
        RecurrentWorkspace workspace)
    {
        ArgumentNullException.ThrowIfNull(module);
        RecurrentStack.Backward(shape, gradOutput, gradInput, n, RecurrentWeights(module, shape), weightGrads, workspace);
    }
}

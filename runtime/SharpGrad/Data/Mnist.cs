namespace SharpGrad.Data;

/// <summary>
/// MNIST-style image/label files (PyTorch: <c>torchvision.datasets.MNIST</c>, which reads the same IDX files).
/// </summary>
public static class Mnist
{
    /// <summary>Loads an IDX image file (ubyte, [N, rows, cols], magic 0x00000803) and an IDX label file (ubyte, [N],
    /// magic 0x00000801), gzipped or not. Returns the images as Float32 of shape [N, 1, rows, cols] scaled to [0, 1]
    /// (pixel / 255, PyTorch: <c>transforms.ToTensor()</c>) and the labels as Int64 of shape [N].</summary>
    /// <exception cref="InvalidDataException">A file is malformed, has the wrong type or rank, or the counts differ.</exception>
    public static (Tensor Images, Tensor Labels) Load(string imagesPath, string labelsPath)
    {
        var raw = LoadRaw(imagesPath, labelsPath);
        var pixels = raw.Images.Data<byte>();
        var images = new float[pixels.Length];
        for (int i = 0; i < images.Length; i++) images[i] = pixels[i] / 255f;
        var s = raw.Images._shape;
        var labelBytes = raw.Labels.Data<byte>();
        var labels = new long[labelBytes.Length];
        for (int i = 0; i < labels.Length; i++) labels[i] = labelBytes[i];
        return (Tensor.Wrap(images, s[0], 1, s[1], s[2]), Tensor.Wrap(labels, labels.Length));
    }

    /// <summary>Loads the files like <see cref="Load"/> but without conversion: images UInt8 [N, rows, cols], labels UInt8 [N]
    /// (PyTorch: <c>MNIST.data</c>, <c>MNIST.targets</c>).</summary>
    /// <exception cref="InvalidDataException">A file is malformed, has the wrong type or rank, or the counts differ.</exception>
    public static (Tensor Images, Tensor Labels) LoadRaw(string imagesPath, string labelsPath)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        var images = Idx.Read(imagesPath);
        if (images.DType != DType.UInt8 || images.Rank != 3)
        {
            throw new InvalidDataException($"MNIST images file '{imagesPath}': expected unsigned bytes of shape [N, rows, cols] (magic 0x00000803), " +
                                           $"but it holds {images.DType} of shape {ShapeUtil.Format(images._shape)}. Is it a labels file?");
        }
        var labels = Idx.Read(labelsPath);
        if (labels.DType != DType.UInt8 || labels.Rank != 1)
        {
            throw new InvalidDataException($"MNIST labels file '{labelsPath}': expected unsigned bytes of shape [N] (magic 0x00000801), " +
                                           $"but it holds {labels.DType} of shape {ShapeUtil.Format(labels._shape)}. Is it an images file?");
        }
        if (labels._shape[0] != images._shape[0])
        {
            throw new InvalidDataException($"MNIST: the images file '{imagesPath}' has {images._shape[0]} images but the labels file '{labelsPath}' has {labels._shape[0]} labels.");
        }
        return (images, labels);
    }
}

using System.Reflection;
using SharpGrad.Ops;
using SharpGrad.Tests.Compiler;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

/// <summary>
/// Walks the op catalogue (runtime/SharpGrad/Ops) and checks each row against what the runtime offers: its entry point
/// on every surface it names, its layer (and that PyTorch's layers for the catalogue's functional ops exist here too,
/// from Fixtures/catalogue/nn_modules.txt), the defaults written once, and for every row a float64 gradient check by
/// finite differences and, for every compiled row, a compiled-vs-eager check (CatalogueTests.Rows.cs). Reflection is fine
/// here: it is test code, not the runtime.
/// </summary>
public partial class CatalogueTests
{
    private static readonly string[] NnModules =
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "catalogue", "nn_modules.txt")).Where(l => l.Length > 0).ToArray();

    public static TheoryData<string> Rows()
    {
        var data = new TheoryData<string>();
        foreach (var row in OpCatalogue.All) data.Add(row.Name);
        return data;
    }

    private static OpRow Row(string name) => OpCatalogue.Find(name) ?? throw new InvalidOperationException($"No catalogue row {name}.");

    /// <summary>The public methods of <paramref name="type"/> named <paramref name="name"/> whose first tensor is the row's input.</summary>
    private static MethodInfo[] Methods(Type type, string name, bool isStatic) =>
        type.GetMethods(BindingFlags.Public | (isStatic ? BindingFlags.Static : BindingFlags.Instance)).Where(m => m.Name == name).ToArray();

    [Fact]
    public void TheCatalogueIsNotEmptyAndNamesAreUnique()
    {
        Assert.True(OpCatalogue.All.Count > 80, $"only {OpCatalogue.All.Count} rows");
        Assert.Equal(OpCatalogue.All.Count, OpCatalogue.All.Select(r => r.Name).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void EachSurfaceOfTheRowHasItsEntryPoint(string name)
    {
        var row = Row(name);
        if ((row.Surface & OpSurface.Functional) != 0)
            Assert.True(Methods(typeof(Functional), row.MethodName, isStatic: true).Length > 0, $"{name}: no Functional.{row.MethodName}");
        if ((row.Surface & OpSurface.Tensor) != 0)
        {
            Assert.True(Methods(typeof(Tensor), row.MethodName, isStatic: false).Length + Methods(typeof(Tensor), row.MethodName, isStatic: true).Length > 0,
                $"{name}: no Tensor.{row.MethodName}");
        }
        if ((row.Surface & OpSurface.Losses) != 0)
            Assert.True(Methods(typeof(Losses), row.MethodName, isStatic: true).Length > 0, $"{name}: no Losses.{row.MethodName}");
        Assert.True(row.Surface != OpSurface.None || row.Layer is not null, $"{name}: neither a method nor a layer");
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void ALayerWherePyTorchHasOneWithTheCataloguesDefaults(string name)
    {
        var row = Row(name);
        // PyTorch's layer for F.leaky_relu is nn.LeakyReLU, for F.cross_entropy nn.CrossEntropyLoss.
        string key = row.PyTorchName.Replace("_", "");
        string? pyTorchLayer = (row.Surface & (OpSurface.Functional | OpSurface.Losses)) == 0 ? null
            : NnModules.FirstOrDefault(m => string.Equals(m, key, StringComparison.OrdinalIgnoreCase) || string.Equals(m, key + "loss", StringComparison.OrdinalIgnoreCase));
        if (pyTorchLayer is not null) Assert.True(row.Layer == pyTorchLayer, $"{name}: PyTorch has nn.{pyTorchLayer}, the row names layer '{row.Layer}'");
        if (row.Layer is null) return;

        var layer = typeof(Module).Assembly.GetType("SharpGrad.Layers." + row.Layer);
        Assert.True(layer is not null && typeof(Module).IsAssignableFrom(layer), $"{name}: no layer class SharpGrad.Layers.{row.Layer}");
        Assert.Same(row, OpCatalogue.ForLayer(row.Layer));
        foreach (var p in row.Params.Where(p => p.HasDefault && (p.Use & ParamUse.Layer) != 0))
        {
            foreach (var ctor in layer!.GetConstructors())
                AssertDefault(ctor.GetParameters().FirstOrDefault(q => q.Name == p.Name), p, $"{row.Layer}'s constructor");
        }
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void FunctionalDefaultsAreTheCataloguesDefaults(string name)
    {
        var row = Row(name);
        if ((row.Surface & OpSurface.Functional) == 0) return;
        foreach (var method in Methods(typeof(Functional), row.MethodName, isStatic: true))
        {
            foreach (var p in row.Params.Where(p => p.HasDefault && (p.Use & ParamUse.Function) != 0))
                AssertDefault(method.GetParameters().FirstOrDefault(q => q.Name == p.Name), p, $"Functional.{row.MethodName}");
        }
    }

    /// <summary>A C# parameter of a simple type with a default must have the catalogue's default (the constants are shared).</summary>
    private static void AssertDefault(ParameterInfo? parameter, ScalarParam p, string where)
    {
        if (parameter is null || !parameter.HasDefaultValue) return;
        var type = Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType;
        if (type == typeof(double) || type == typeof(float) || type == typeof(int))
            Assert.True(p.ToNumber(parameter.DefaultValue) == p.DefaultNumber, $"{where}: {p.Name} defaults to {parameter.DefaultValue}, the catalogue says {p.Default}");
        else if (type == typeof(bool) || type == typeof(string))
            Assert.True(Equals(parameter.DefaultValue, p.Default), $"{where}: {p.Name} defaults to {parameter.DefaultValue}, the catalogue says {p.Default}");
    }

    /// <summary>Values for parameters without a default (and for Clamp's optional bounds), by name.</summary>
    private static readonly Dictionary<string, object> Required = new() { ["exponent"] = 2.5, ["other"] = 1.7, ["min"] = -0.5, ["max"] = 0.7, ["dim"] = 1 };

    /// <summary>The ops defined for positive inputs only (PowScalar: x^2.5).</summary>
    private static readonly HashSet<string> PositiveDomain = ["Log", "Sqrt", "Rsqrt", "Reciprocal", "Log1p", "PowScalar"];

    /// <summary>Calls the row's Functional or Tensor entry on <paramref name="x"/> with its defaults (or <see cref="Required"/>).</summary>
    private static Tensor Call(OpRow row, Tensor x)
    {
        bool functional = (row.Surface & OpSurface.Functional) != 0;
        var method = (functional ? Methods(typeof(Functional), row.MethodName, isStatic: true) : Methods(typeof(Tensor), row.MethodName, isStatic: false))
            .Where(m => m.ReturnType == typeof(Tensor) && m.GetParameters().Skip(functional ? 1 : 0).All(q => q.ParameterType != typeof(Tensor)))
            .OrderBy(m => m.GetParameters().Length).First();
        var arguments = new List<object?>();
        if (functional) arguments.Add(x);
        foreach (var q in method.GetParameters().Skip(functional ? 1 : 0))
            arguments.Add(Required.TryGetValue(q.Name!, out var v) ? v : q.HasDefaultValue ? q.DefaultValue : throw new InvalidOperationException($"{row.Name}: no value for {q.Name}"));
        return (Tensor)method.Invoke(functional ? null : x, arguments.ToArray())!;
    }

    [Fact]
    public void EveryCompiledSlicingAndJoiningRowIsInTheCompiledCheck()
    {
        var compiled = OpCatalogue.All.Where(r => r.Family is OpFamily.Slice or OpFamily.Concat && r.Compiled).Select(r => r.Name).ToHashSet();
        Assert.Empty(compiled.Except(SharpGrad.Tests.Compiler.CompiledSliceTests.Ops));
        Assert.Empty(SharpGrad.Tests.Compiler.CompiledSliceTests.Ops.Except(compiled));
    }
}

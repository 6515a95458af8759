namespace SharpGrad.Generator.Tests.Acceptance;

/// <summary>
/// Issue 12's acceptance: each model of AcceptanceModules.cs (written as PyTorch users write them) compiled
/// with <c>Compile()</c> gives eager's output, input gradients and parameter gradients at batch 1, 3 and 64 (and two
/// sequence lengths where it has one). The eager path is the reference; tolerance 1e-4 relative (float32 sums in another order).
/// Where a model is within the compiler's coverage, its explanation is checked to have no break.
/// </summary>
public class AcceptanceTests
{
    public static TheoryData<int> Batches => new() { 1, 3, 64 };

    [Theory]
    [MemberData(nameof(Batches))]
    public void RegionsBeforeAndAfterABreakAreBothCompiled(int batch)
    {
        var model = new RegionNet();
        var compiled = model.Compile();
        var explanation = compiled.Explanation;
        Assert.Equal(2, explanation.Regions.Count);
        var only = Assert.Single(explanation.Breaks);
        Assert.Contains("Rescale", only.Construct, StringComparison.Ordinal);
        Assert.StartsWith("AcceptanceModules.cs(", only.Location, StringComparison.Ordinal);

        var x = Randn([batch, 6], 1);
        var y = compiled.Forward(x.Detach().RequiresGrad_());
        // The output is the second region's node; below it, the eager helper's ops; below those, the first region's node.
        Assert.Equal(2, CompiledNodes(y));
        Assert.EndsWith("CompiledBackward", y.GradFn!.Name, StringComparison.Ordinal);
        Eager.Compare(model, [x], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void AResidualKeptAcrossABreakIsAnInputOfTheRegionAfterIt(int batch)
    {
        var model = new SkipAcrossBreakNet();
        var compiled = model.Compile();
        // skip = inProj(x) | h = Tanh(skip) | the loop (eager) | h = outProj(h) + skip; return Sigmoid(h): a region leaves one value.
        Assert.Equal(3, compiled.Explanation.Regions.Count);
        Assert.Single(compiled.Explanation.Breaks);
        Eager.Compare(model, [Randn([batch, 5], 2)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ConstructorSizedMlp(int batch)
    {
        var model = new CtorMlp(4, 9, 3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 4], 3)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void AModuleSubclassingAnotherModuleHasItsOwnProgram(int batch)
    {
        var baseModel = new BaseMlp();
        var baseCompiled = baseModel.Compile();
        Eager.Compare(baseModel, [Randn([batch, 5], 21)], xs => baseModel.Forward(xs[0]), xs => baseCompiled.Forward(xs[0]));

        var model = new GatedMlp();
        GatedMlp.Compiled compiled = model.Compile();
        // The base's children are the subclass's too: its Forward over them compiles whole (it used to break at fc1).
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Single(compiled.Explanation.Regions);
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "gate.weight", "gate.bias"], model.NamedParameters().Select(p => p.Name).ToArray());
        Eager.Compare(model, [Randn([batch, 5], 22)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
        // Through the base type, Compile() is the base's (hidden, not overridden): its program computes BaseMlp.Forward, not
        // the override eager runs, so it refuses and says which Compile() to call.
        var error = Assert.Throws<InvalidOperationException>(() => ((BaseMlp)model).Compile());
        Assert.Contains("BaseMlp.Compile() compiles BaseMlp.Forward, but this module is a GatedMlp", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ASubclassChainingBaseAndThisConstructorsCompilesTheBaseLayersItsArgumentsSize(int batch)
    {
        var model = new SizedSubclass(3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.NotEmpty(compiled.Explanation.Regions);
        Eager.Compare(model, [Randn([batch, 4], 23)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));

        // Through `: this(5)`: hidden = 5, the base's fc1 is Linear(4, 10).
        var forwarded = new SizedSubclass();
        var forwardedCompiled = forwarded.Compile();
        Assert.True(forwardedCompiled.Explanation.IsFullyCompiled, forwardedCompiled.Explanation.ToString());
        Eager.Compare(forwarded, [Randn([batch, 4], 24)], xs => forwarded.Forward(xs[0]), xs => forwardedCompiled.Forward(xs[0]));

        var baseModel = new SizedBase(4, 6, false);
        var baseCompiled = baseModel.Compile();
        Assert.True(baseCompiled.Explanation.IsFullyCompiled, baseCompiled.Explanation.ToString());
        Eager.Compare(baseModel, [Randn([batch, 4], 25)], xs => baseModel.Forward(xs[0]), xs => baseCompiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void NullForAnOptionalTensorAndRemainderCompile(int batch)
    {
        var model = new NullArgumentNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 2, 6, 6], 26)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));

        var gru = new NullStateGruNet();
        var gruCompiled = gru.Compile();
        Assert.True(gruCompiled.Explanation.IsFullyCompiled, gruCompiled.Explanation.ToString());
        foreach (int length in new[] { 3, 7 })
        {
            Eager.Compare(gru, [Randn([batch, length, 4], 27 + length)], xs => gru.Forward(xs[0]), xs => gruCompiled.Forward(xs[0]));
        }
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void AnExpressionBodiedConditionalOnConstructorFlagsCompilesTheInstancesBranch(int batch)
    {
        foreach (bool residual in new[] { true, false })
        {
            var model = new ExpressionGatedBlock(5, residual);
            var compiled = model.Compile();
            Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
            Assert.Equal(2, compiled.Explanation.Regions.Count);   // one per value of the test
            Eager.Compare(model, [Randn([batch, 5], 40)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
        }
        foreach (int mode in new[] { 2, 3 })
        {
            var model = new ExpressionModeBlock(mode);
            var compiled = model.Compile();
            Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
            var x = Randn([batch, 4], 41);
            if (mode == 2) Eager.Compare(model, [x], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
            else Assert.Same(x, compiled.Forward(x));   // the false branch returns its input, as eager does
        }
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void GuardsAtTheTopOfForwardRunAsWrittenAndAreNoBreak(int batch)
    {
        var model = new GuardedNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Single(compiled.Explanation.Regions);
        Eager.Compare(model, [Randn([batch, 6], 42)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));

        // When a guard fires: the same exception, with the same message, as eager.
        var tooMany = Randn([65, 6], 43);
        var eagerError = Assert.Throws<ArgumentException>(() => model.Forward(tooMany));
        var compiledError = Assert.Throws<ArgumentException>(() => compiled.Forward(tooMany));
        Assert.Equal(eagerError.Message, compiledError.Message);
        Assert.Equal("x", Assert.Throws<ArgumentNullException>(() => compiled.Forward(null!)).ParamName);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void APartOfABrokenStatementThatRunsFirstIsCompiled(int batch)
    {
        var model = new HoistNet();
        var compiled = model.Compile();
        // Relu(fc1(x)) and Sigmoid(fc1(x)) * 2f: two regions (before, the two statements were eager whole); the two Rescale calls are the breaks.
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        Assert.Equal(2, compiled.Explanation.Breaks.Count);
        var x = Randn([batch, 6], 44);
        Assert.Equal(2, CompiledNodes(compiled.Forward(x.Detach().RequiresGrad_())));
        Eager.Compare(model, [x], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));

        var joined = new HoistJoinNet();
        var joinedCompiled = joined.Compile();
        // `a` and fc1(a) in one region (lines 2–3 of Forward), fc2(h) in another.
        Assert.Equal(2, joinedCompiled.Explanation.Regions.Count);
        Assert.Contains("–", joinedCompiled.Explanation.Regions[0], StringComparison.Ordinal);
        var y = Randn([batch, 5], 45);
        Assert.Equal(2, CompiledNodes(joinedCompiled.Forward(y.Detach().RequiresGrad_())));
        Eager.Compare(joined, [y], xs => joined.Forward(xs[0]), xs => joinedCompiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ConstructorSizesTheBuildCannotCompareAreCheckedOnceInCompile(int batch)
    {
        var model = new TwoWidthNet(6, 6);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 3], 11)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));

        var wrong = new TwoWidthNet(6, 7);
        var error = Assert.Throws<InvalidOperationException>(() => wrong.Compile());
        Assert.Contains("TwoWidthNet.Compile(): fc2.in_features is 7", error.Message, StringComparison.Ordinal);
        Assert.Contains("hidden = 6", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ConstructorSizesAsProductsAndReadonlyFields(int batch)
    {
        var model = new ProductSizedNet(3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 5], 12)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void TwoInstancesOfAConstructorSizedBlockBindTheirOwnSizes(int batch)
    {
        var model = new TwoBlockNet(4, 5);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 4], 13)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ATensorParameterNamedNDoesNotClashWithTheBatchLocal(int batch)
    {
        var model = new ParameterNamedN();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 4], 14), Randn([batch, 4], 15)], xs => model.Forward(xs[0], xs[1]), xs => compiled.Forward(xs[0], xs[1]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ConstructorSizedLayerNormAndResidual(int batch)
    {
        var model = new NormedMlp(5, 6, 3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 5], 16)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ConstructorSizedEmbeddingWithTheCallersRng(int batch)
    {
        var model = new TokenClassifier(11, 6, 3, new Rng(19));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var tokens = Tensor.RandInt(0, 11, [batch], new Rng(20));
        Eager.Compare(model, [tokens], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ChildrenNamedWithKeywords(int batch)
    {
        var model = new KeywordChildNet(5);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 3], 21)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void MlpFromAListOfHiddenSizes(int batch)
    {
        var model = new HiddenSizesMlp([5, 8, 8, 2]);
        var compiled = model.Compile();
        Eager.Compare(model, [Randn([batch, 5], 4)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ResidualBlock(int batch)
    {
        var model = new ResidualMlpBlock(6);
        var compiled = model.Compile();
        Eager.Compare(model, [Randn([batch, 6], 5)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    public static TheoryData<int, int> BatchesAndDepths => new() { { 1, 2 }, { 3, 2 }, { 64, 2 }, { 1, 5 }, { 3, 5 }, { 64, 5 } };

    /// <summary>
    /// <c>for (i &lt; depth) blocks.Append(new ResidualMlpBlock(d))</c>, a count the build does not know: the loop runs at run
    /// time, each block's Forward through the block's own program (held by the parent's program), the head after it compiled.
    /// The loop is no break of its own; but ResidualMlpBlock's own program breaks (its input shape is not known on its own),
    /// so the explanation lists that break once per block, under the block's path. Compiled equals eager for two depths.
    /// </summary>
    [Theory]
    [MemberData(nameof(BatchesAndDepths))]
    public void ResidualStackBuiltInALoopRunsEachElementsProgram(int batch, int depth)
    {
        var model = new ResidualStack(6, depth, 4);
        var compiled = model.Compile();
        var explanation = compiled.Explanation;
        Assert.False(explanation.IsFullyCompiled);
        Assert.DoesNotContain(explanation.Breaks, b => b.Construct.Contains("the loop over 'blocks'", StringComparison.Ordinal));
        Assert.DoesNotContain(explanation.Breaks, b => b.Construct.Contains("the child 'blocks'", StringComparison.Ordinal));
        Assert.Equal(Enumerable.Range(0, depth).Select(i => $"blocks.{i}.Forward"), explanation.Breaks.Select(b => b.Method));
        Assert.All(explanation.Breaks, b => Assert.Equal(new ResidualMlpBlock(6).Compile().Explanation.Breaks[0].Construct, b.Construct));
        Eager.Compare(model, [Randn([batch, 6], 6)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    /// <summary>
    /// The same loop over blocks whose own program is whole (LinearResidualBlock starts with a Linear): the parent is fully
    /// compiled, the explanation lists each block's program under its path, and the tape holds one compiled node per block
    /// (each block ran its program, not eager ops) between the parent's two compiled regions. Compiled equals eager.
    /// </summary>
    [Theory]
    [MemberData(nameof(BatchesAndDepths))]
    public void ALoopOverBlocksWhoseProgramsAreWholeIsFullyCompiled(int batch, int depth)
    {
        var model = new DeepResidualNet(5, 6, depth, 4);
        var compiled = model.Compile();
        var explanation = compiled.Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        for (int i = 0; i < depth; i++)
        {
            Assert.Contains(explanation.Regions, r => r.StartsWith("Forward, AcceptanceModules.cs line ", StringComparison.Ordinal)
                                                      && r.EndsWith($": blocks.{i}: Forward: the whole method", StringComparison.Ordinal));
        }
        Assert.DoesNotContain(explanation.Regions, r => r.Contains($"blocks.{depth}:", StringComparison.Ordinal));
        var x = Randn([batch, 5], 7).RequiresGrad_();
        var y = compiled.Forward(x);
        var names = new List<string>();
        for (var node = y.GradFn; node is not null; node = node.NextFunctions[0])
        {
            if (node.Name.EndsWith("CompiledBackward", StringComparison.Ordinal)) names.Add(node.Name);
        }
        Assert.Equal(["DeepResidualNetForwardRegion2CompiledBackward", .. Enumerable.Repeat("LinearResidualBlockForwardCompiledBackward", depth),
            "DeepResidualNetForwardRegion1CompiledBackward"], names);
        y.Backward(Tensor.OnesLike(y));
        Eager.Compare(model, [Randn([batch, 5], 8)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    /// <summary>A Forward that is only the loop (no region of its own compiles): still each block's program, fully compiled.</summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void AForwardThatIsOnlyTheLoopRunsTheBlocksPrograms(int batch)
    {
        var model = new BlocksOnly(5, 3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(3, compiled.Explanation.Regions.Count);
        var y = compiled.Forward(Randn([batch, 5], 9).RequiresGrad_());
        Assert.Equal("LinearResidualBlockForwardCompiledBackward", y.GradFn!.Name);
        y.Backward(Tensor.OnesLike(y));
        Eager.Compare(model, [Randn([batch, 5], 10)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    /// <summary>
    /// Several constructors, the others forwarding with <c>: this(…)</c>: the module is built by the one they forward to, a
    /// child made with the short one (<c>new TwoCtorBlock(width)</c>, hidden = 2·width) inlined with the sizes it passes on.
    /// Fully compiled whichever constructor built it, and equal to eager.
    /// </summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void ConstructorsForwardingWithThisCompileWithNoBreak(int batch)
    {
        foreach (var (model, inputs) in new[] { (new ChainedCtorNet(), 5), (new ChainedCtorNet(4, 6), 4) })
        {
            var compiled = model.Compile();
            Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
            Assert.Equal(["Forward: the whole method"], compiled.Explanation.Regions);
            Eager.Compare(model, [Randn([batch, inputs], 31)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
        }
        foreach (var block in new[] { new TwoCtorBlock(6), new TwoCtorBlock(6, 4) })
        {
            var compiled = block.Compile();
            Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
            Eager.Compare(block, [Randn([batch, 6], 32)], xs => block.Forward(xs[0]), xs => compiled.Forward(xs[0]));
        }
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ModuleListFilledInAConstantConstructorLoopCompilesWithNoBreak(int batch)
    {
        var model = new ConstDepthStack(6, 3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 6], 22)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void SequentialFilledInAConstantConstructorLoopCompilesWithNoBreak(int batch)
    {
        var model = new LoopSequentialNet(5);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 5], 23)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ASequenceModelCompilesOnceAndRunsAtTwoSequenceLengths(int batch)
    {
        var model = new SequenceTagger(6, 3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        // One program, lengths 7 then 3 (buffers reused) then 9 (grown): each equal to eager.
        foreach (int length in new[] { 7, 3, 9 })
        {
            Eager.Compare(model, [Randn([batch, length, 6], 24 + length)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
        }
        var error = Assert.Throws<ArgumentException>(() => compiled.Forward(Randn([batch, 5], 41)));
        Assert.Contains("SequenceTagger.Compiled.Forward: expected x of shape [N, T, d], with T (dim 1) at least 1, but got", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ARecurrentSequenceModelCompilesOnceAndRunsAtTwoSequenceLengths(int batch)
    {
        var model = new GruSequenceTagger(4, 5, 3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int length in new[] { 6, 2, 8 })
        {
            Eager.Compare(model, [Randn([batch, length, 4], 50 + length)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
        }
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void SequentialFilledWithAddInTheConstructor(int batch)
    {
        var model = new SequentialAddNet();
        var compiled = model.Compile();
        Eager.Compare(model, [Randn([batch, 4], 7)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void SequentialOfUserBlocksWithoutAnExplicitBase(int batch)
    {
        var model = new SequentialOfUserBlocks();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 6], 8)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void CausalAttentionCompilesWithNoBreak(int batch)
    {
        var model = new CausalAttention();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 4, 8], 9), CausalMask(4)], xs => model.Forward(xs[0], xs[1]), xs => compiled.Forward(xs[0], xs[1]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void CamelCaseChildIsFoundByItsStateName(int batch)
    {
        var model = new CamelCaseParent();
        Assert.Contains(model.NamedModules(), m => m.Name == "self_attn.q");
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 4, 8], 10), CausalMask(4)], xs => model.Forward(xs[0], xs[1]), xs => compiled.Forward(xs[0], xs[1]));
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(3, 3)]
    [InlineData(64, 3)]
    [InlineData(1, 5)]
    [InlineData(3, 5)]
    [InlineData(64, 5)]
    public void TransformerBlockAtTwoSequenceLengths(int batch, int length)
    {
        var model = new TransformerBlock(8, 2);
        var compiled = model.Compile();
        Eager.Compare(model, [Randn([batch, length, 8], 11)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ConvNetWithConstructorChannels(int batch)
    {
        var model = new CtorConvNet(3);
        var compiled = model.Compile();
        // Flatten(1) of [N, 2*channels, 2, 2] is [N, 8*channels] in the symbolic shape inference (it was unknown).
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 1, 8, 8], 12)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ResidualConvNet(int batch)
    {
        var model = new ResidualConvNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 3, 8, 8], 13)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void HelperMethod(int batch)
    {
        var model = new GatedHelperNet();
        var compiled = model.Compile();
        Assert.Single(compiled.Explanation.Regions);   // `return head.Forward(h)`, after the helper
        Eager.Compare(model, [Randn([batch, 6], 14)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void SlicingAndCat(int batch)
    {
        var model = new SplitCatNet();
        var compiled = model.Compile();
        Eager.Compare(model, [Randn([batch, 6], 15)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void MaskedPooling(int batch)
    {
        var model = new MaskedPoolNet();
        var compiled = model.Compile();
        var padding = Randn([batch, 5, 4], 16).Gt(0.5);
        Eager.Compare(model, [Randn([batch, 5, 4], 17), padding], xs => model.Forward(xs[0], xs[1]), xs => compiled.Forward(xs[0], xs[1]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void EmbeddingMean(int batch)
    {
        var model = new EmbeddingBagNet();
        var compiled = model.Compile();
        var tokens = Tensor.RandInt(0, 20, [batch, 5], new Rng(18));
        Eager.Compare(model, [tokens], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void FormerlyEagerOnlyModulesCompileWithBreaks(int batch)
    {
        // EndToEnd.Top was [Module(Compile = false)]: a foreach over heads whose class breaks (a conditional), two overloads.
        var model = new EndToEnd.Top();
        var compiled = model.Compile();
        Assert.False(compiled.Explanation.IsFullyCompiled);
        Eager.Compare(model, [Randn([batch, 3], 19)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
        Eager.Compare(model, [Randn([batch, 3], 20), Randn([batch, 3], 21)], xs => model.Forward(xs[0], xs[1]), xs => compiled.Forward(xs[0], xs[1]));
    }

    public static TheoryData<int, int> BatchesAndWidths => new() { { 1, 8 }, { 3, 8 }, { 64, 8 }, { 1, 32 }, { 3, 32 }, { 64, 32 } };

    /// <summary>
    /// A flag the constructor sets from its arguments (<c>gated = cout &gt; 16</c>) is no break: each value of
    /// <c>gated ? h * tanh(h) : h</c> is a compiled region (the false one is <c>h</c>'s own), and the runner takes the one the
    /// instance has. Both instances are fully compiled, their output's grad_fn is the chosen region's, and compiled equals eager.
    /// </summary>
    [Theory]
    [MemberData(nameof(BatchesAndWidths))]
    public void AFlagTheConstructorSetsFromItsArgumentsTakesEachInstancesBranch(int batch, int cout)
    {
        var model = new GatedBlock(8, cout);
        var compiled = model.Compile();
        var explanation = compiled.Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        Assert.Contains(explanation.Regions, r => r.EndsWith("(gated)", StringComparison.Ordinal));
        Assert.Contains(explanation.Regions, r => r.EndsWith("(!gated)", StringComparison.Ordinal));
        var y = compiled.Forward(Randn([batch, 8], 11).RequiresGrad_());
        Assert.Equal("GatedBlockForwardRegion" + (cout > 16 ? "1" : "2") + "CompiledBackward", y.GradFn!.Name);
        Assert.Equal([batch, cout], y.Shape.ToArray());
        Eager.Compare(model, [Randn([batch, 8], 12)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    /// <summary>
    /// Issue 12 item 2's block: <c>residual ? x + h : h</c> with <c>residual = cin == cout</c>. The test's two values are each a
    /// compiled region, the true one taking cin and cout as one size (the region runs only when they are equal), so <c>x + h</c>
    /// compiles; the instance's value is read when it runs. Both instances (flag true at 8→8, false at 8→32) are fully compiled,
    /// their output's grad_fn is their own branch's region, and they give eager's output, input gradient and parameter gradients.
    /// </summary>
    [Theory]
    [MemberData(nameof(BatchesAndWidths))]
    public void AResidualFlagTheConstructorSetsGivesEachInstancesBranch(int batch, int cout)
    {
        var model = new FlagBlock(8, cout);
        var compiled = model.Compile();
        var explanation = compiled.Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        Assert.Contains(explanation.Regions, r => r.EndsWith("(residual)", StringComparison.Ordinal));
        Assert.Contains(explanation.Regions, r => r.EndsWith("(!residual)", StringComparison.Ordinal));
        var y = compiled.Forward(Randn([batch, 8], 11).RequiresGrad_());
        Assert.Equal([batch, cout], y.Shape.ToArray());
        Assert.Equal("FlagBlockForwardRegion" + (cout == 8 ? "1" : "2") + "CompiledBackward", y.GradFn!.Name);
        Eager.Compare(model, [Randn([batch, 8], 12)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    public static TheoryData<int, int, int> BatchesWidthsAndStrides => new()
    {
        { 1, 8, 1 }, { 3, 8, 1 }, { 64, 8, 1 }, { 1, 32, 1 }, { 3, 32, 1 }, { 64, 32, 1 }, { 1, 8, 2 }, { 3, 8, 2 }, { 64, 8, 2 },
    };

    /// <summary>
    /// <c>useResidual = stride == 1 &amp;&amp; cin == cout</c> tested by <c>if (useResidual) h = h + x;</c>: fully compiled for every
    /// instance (residual at 8→8 stride 1; not at 8→32 or at stride 2, where cin == cout but the test is false), each taking its
    /// own branch's region; compiled equals eager (outputs, input and parameter gradients).
    /// </summary>
    [Theory]
    [MemberData(nameof(BatchesWidthsAndStrides))]
    public void AResidualFlagOverSizesAndAStrideTestedByAnIfGivesEachInstancesBranch(int batch, int cout, int stride)
    {
        var model = new StrideResidualBlock(8, cout, stride);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        bool residual = stride == 1 && cout == 8;
        var y = compiled.Forward(Randn([batch, 8], 15).RequiresGrad_());
        Assert.Equal("StrideResidualBlockForwardRegion" + (residual ? "1" : "2") + "CompiledBackward", y.GradFn!.Name);
        Eager.Compare(model, [Randn([batch, 8], 16)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    /// <summary>Issue 12 item 2's Net: a loop over FlagBlocks (8→32, then 32→32 twice), then Cat, Pow, Clamp and the head: compiled equals eager.</summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void ALoopOverFlagBlocksThenCatPowClampEqualsEager(int batch)
    {
        var model = new FlagNet(8, 32, 3);
        var compiled = model.Compile();
        Eager.Compare(model, [Randn([batch, 8], 13)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    /// <summary>
    /// With the blocks whole, the Net of issue 12 item 2 is fully compiled: the loop runs each block's program and the Cat,
    /// Pow, Clamp and head after it are one compiled region. Compiled equals eager.
    /// </summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void WithWholeBlocksTheCatPowClampHeadAfterTheLoopCompile(int batch)
    {
        var model = new NormBlockNet(8, 32, 3);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Eager.Compare(model, [Randn([batch, 8], 14)], xs => model.Forward(xs[0]), xs => compiled.Forward(xs[0]));
    }

    private static Tensor Randn(int[] shape, int seed) => Tensor.Randn(shape, rng: new Rng(seed));

    private static Tensor CausalMask(int t) => Tensor.Ones(t, t).Triu(1).Gt(0.0);

    /// <summary>The compiled nodes (their names end in CompiledBackward) on the tape below <paramref name="y"/>.</summary>
    private static List<string> NodeNames(Tensor y)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>();
        if (y.GradFn is { } root) stack.Push(root);
        var names = new List<string>();
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (!seen.Add(node)) continue;
            names.Add(node.Name);
            foreach (var next in node.NextFunctions) if (next is not null) stack.Push(next);
        }
        return names;
    }

    private static int CompiledNodes(Tensor y)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>();
        if (y.GradFn is { } root) stack.Push(root);
        int count = 0;
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (!seen.Add(node)) continue;
            if (node.Name.EndsWith("CompiledBackward", StringComparison.Ordinal)) count++;
            foreach (var next in node.NextFunctions) if (next is not null) stack.Push(next);
        }
        return count;
    }
}

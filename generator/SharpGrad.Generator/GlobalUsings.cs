// The shared op catalogue and shape model (runtime/SharpGrad/Ops, linked as source), and the pipeline's stages.
global using SharpGrad.Generator.Emit;
global using SharpGrad.Generator.Model;
global using SharpGrad.Generator.Parsing;
global using SharpGrad.Generator.Passes;
global using SharpGrad.Generator.Planning;
global using SharpGrad.Generator.Rules;
global using SharpGrad.Ops;

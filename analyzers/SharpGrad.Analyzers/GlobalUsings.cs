// The shared op catalogue and shape model (runtime/SharpGrad/Ops, linked as source).
global using SharpGrad.Ops;

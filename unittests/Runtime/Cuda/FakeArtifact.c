/*===- FakeArtifact.c - a second artifact for the binding tests -----------===*\
|*                                                                            *|
|* Kernels that lie in a shared object of their own, as those of a second     *|
|* artifact loaded in the process would: the PTX declares the same device     *|
|* global as the test executable's kernels, and bindings of either artifact   *|
|* must reach only its own modules.                                           *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

static const char ptx[] =
    ".version 8.0\n"
    ".target sm_90\n"
    ".visible .global .align 16 .b8 __lowbit_weight_00000000000000aa[64];\n";

__attribute__((visibility("default"))) const char *fake_artifact_ptx(void) {
  return ptx;
}

package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** A block's density plot is one file in --out whatever characters the block's name has: any but [A-Za-z0-9._-] as %XX. */
class SpectrumPlotNameTest {
  @Test
  void aPlotNameEscapesCharactersThatAreNotSafeInAFileName() {
    assertEquals("density-v3.W.png", SpectrumCommand.plotName("v3.W"));
    assertEquals("density-blocks.0.att.in_proj_weight%5Bq%5D.png", SpectrumCommand.plotName("blocks.0.att.in_proj_weight[q]"));
    assertEquals("density-onnx%3A%3AMatMul_8.png", SpectrumCommand.plotName("onnx::MatMul_8"));
    assertEquals("density-%2F0%2FConstant_output_0.png", SpectrumCommand.plotName("/0/Constant_output_0"));
    assertEquals("density-%C3%A9.png", SpectrumCommand.plotName("\u00e9"));
  }
}

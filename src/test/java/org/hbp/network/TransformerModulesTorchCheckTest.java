package org.hbp.network;

import static org.hbp.network.TorchReference.assertBlockEquals;
import static org.hbp.network.TorchReference.runScript;
import static org.hbp.network.TorchReference.scale;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;
import org.hbp.backend.Backend;
import org.hbp.backend.Batch;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.generated.Attention2headsOperator;
import org.hbp.generated.BatchnormOperator;
import org.hbp.generated.EmbeddingOperator;
import org.hbp.generated.MultiheadAttentionBiasMaskedOperator;
import org.hbp.generated.MultiheadAttentionBiasOperator;
import org.hbp.generated.MultiheadAttentionMaskedOperator;
import org.hbp.generated.MultiheadAttentionOperator;
import org.hbp.generated.GeluTanhOperator;
import org.hbp.generated.LayernormOperator;
import org.hbp.generated.LayernormTokensOperator;
import org.hbp.generated.MeanpoolOperator;
import org.hbp.generated.RmsNormOperator;
import org.hbp.generated.SelfAttentionMaskedOperator;
import org.hbp.generated.SelfAttentionOperator;
import org.hbp.generated.SoftmaxOperator;
import org.hbp.io.NdArray;
import org.hbp.io.Npz;
import org.hbp.runtime.ForwardCache;
import org.hbp.runtime.ModuleOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transformer's modules (modules-spec/) mean what PyTorch means: their generated operators'
 * forward values, Jacobian products J v and J' u and residual products R v (the Hessian of
 * {@code <dz, z>}) in every input and parameter equal, to 1e-10 in float64, those of PyTorch's own
 * modules and functionals under autograd (src/test/resources/torch/transformer_modules_check.py:
 * nn.LayerNorm, nn.RMSNorm or its formula, F.gelu(approximate='tanh'), F.softmax, nn.Embedding,
 * nn.BatchNorm1d in eval(), nn.MultiheadAttention (one, two and, with heads as a dim, three heads, with and without biases) with and without a boolean causal mask, and
 * attention in torch ops for k != d). PyTorchVerifierTest checks the derivation against autograd of
 * the spec's own formula; this checks the formula against PyTorch's definitions. Needs python3
 * with torch; a missing torch is a failure, not a skip.
 */
class TransformerModulesTorchCheckTest {
  @TempDir Path dir;

  /** The script's cases and the operators they check (self_attention_ops: k != d, in torch ops). */
  static final Map<String, BiFunction<Backend, Map<String, Integer>, ModuleOperator>> CASES = new LinkedHashMap<>();

  static {
    CASES.put("layernorm", LayernormOperator::new);
    CASES.put("layernorm_tokens", LayernormTokensOperator::new);
    CASES.put("rms_norm", RmsNormOperator::new);
    CASES.put("gelu_tanh", GeluTanhOperator::new);
    CASES.put("softmax", SoftmaxOperator::new);
    CASES.put("meanpool", MeanpoolOperator::new);
    CASES.put("embedding", EmbeddingOperator::new);
    CASES.put("batchnorm", BatchnormOperator::new);
    CASES.put("self_attention", SelfAttentionOperator::new);
    CASES.put("self_attention_ops", SelfAttentionOperator::new);
    CASES.put("self_attention_masked", SelfAttentionMaskedOperator::new);
    CASES.put("attention_2heads", Attention2headsOperator::new);
    CASES.put("multihead_attention", MultiheadAttentionOperator::new);
    CASES.put("multihead_attention_masked", MultiheadAttentionMaskedOperator::new);
    CASES.put("multihead_attention_bias", MultiheadAttentionBiasOperator::new);
    CASES.put("multihead_attention_bias_masked", MultiheadAttentionBiasMaskedOperator::new);
  }

  @Test
  void theTransformersModulesArePyTorchs() throws Exception {
    runScript("transformer_modules_check.py", dir.toString());
    Map<String, NdArray> ref = Npz.read(dir.resolve("ref.npz"));
    Backend be = new CpuBackend();
    int compared = 0;
    for (var c : CASES.entrySet()) {
      String name = c.getKey();
      Map<String, Integer> dims = new TreeMap<>();
      Map<String, Batch> values = new LinkedHashMap<>();
      for (var e : ref.entrySet()) {
        String key = e.getKey();
        if (key.startsWith(name + ".dim.")) dims.put(key.substring(name.length() + 5), (int) e.getValue().data()[0]);
        if (key.startsWith(name + ".val.")) values.put(key.substring(name.length() + 5), batch(be, e.getValue()));
      }
      assertTrue(!dims.isEmpty() && !values.isEmpty(), name + ": no case in the script's output");
      ModuleOperator op = c.getValue().apply(be, dims);
      ForwardCache cache = op.forward(values);
      compared += compare(name + ".ref.z", ref, be, cache.get(op.outputName()), true);
      Batch dz = batch(be, require(ref, name + ".dz")), u = batch(be, require(ref, name + ".u"));
      int wrts = 0;
      for (String key : ref.keySet()) {
        if (!key.startsWith(name + ".v.")) continue;
        String w = key.substring(name.length() + 3);
        Batch v = batch(be, ref.get(key));
        compared += compare(name + ".ref.jv." + w, ref, be, op.jacMatProd(cache, w, v), true);
        compared += compare(name + ".ref.jtu." + w, ref, be, op.jacTMatProd(cache, w, u), true);
        // zero where the module is linear in w (the biases, the embedding, mean pooling)
        compared += compare(name + ".ref.rv." + w, ref, be, op.residualMatProd(cache, w, dz, v), false);
        wrts++;
      }
      assertEquals(op.inputs().size() + op.parameters().size() - (name.equals("embedding") ? 1 : 0), wrts,
          name + ": every input and parameter PyTorch differentiates is compared");
    }
    assertEquals(ref.keySet().stream().filter(k -> k.contains(".ref.")).count(), compared, "every reference was compared");
  }

  /** Compares hbp's {@code got} with the reference {@code key}; 1. */
  private static int compare(String key, Map<String, NdArray> ref, Backend be, Batch got, boolean nonzero) {
    NdArray r = require(ref, key);
    if (nonzero) assertTrue(scale(r) > 0, key + " is zero: nothing compared");
    assertBlockEquals(key, r, NdArray.of(be.toArray(got), r.shape()));
    return 1;
  }

  private static NdArray require(Map<String, NdArray> ref, String key) {
    NdArray a = ref.get(key);
    assertNotNull(a, "the script wrote no " + key);
    return a;
  }

  /** An (S, D, cols, rows) array, S samples of D directions of column-major items, as a batch. */
  private static Batch batch(Backend be, NdArray a) {
    int[] s = a.shape();
    return be.fromArray(s[0], s[1], s[3], s[2], a.data());
  }
}

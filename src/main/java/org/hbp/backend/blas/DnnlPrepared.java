package org.hbp.backend.blas;

import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_destroy;

import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A oneDNN primitive prepared for one shape, as {@link DnnlEngine}'s caches keep it: the primitive,
 * its memory descriptors, and the reorder of the weights between our layout and its. What a
 * builder has made is here, so that {@link #destroy} cleans up after a failure too.
 */
final class DnnlPrepared {
  dnnl_primitive_desc pd;
  dnnl_primitive primitive;
  dnnl_memory_desc x, y, userWeights, weights;
  /** The bias vector of a {@link DnnlEngine#FORWARD_BIAS} pass, else null. */
  dnnl_memory_desc bias;
  /** Reorders user weights to the primitive's (forward, adjoint) or its weight gradient to ours; null when the layouts agree. */
  dnnl_primitive reorder;
  dnnl_primitive_desc reorderPd;
  /** The weights (or the weight gradient) in the primitive's layout, when reordered. */
  FloatPointer scratch;

  void destroy() {
    if (reorder != null) dnnl_primitive_destroy(reorder);
    if (reorderPd != null) dnnl_primitive_desc_destroy(reorderPd);
    if (primitive != null) dnnl_primitive_destroy(primitive);
    if (pd != null) dnnl_primitive_desc_destroy(pd);
    if (x != null) dnnl_memory_desc_destroy(x);
    if (y != null && y != x) dnnl_memory_desc_destroy(y);
    if (userWeights != null) dnnl_memory_desc_destroy(userWeights);
    if (bias != null) dnnl_memory_desc_destroy(bias);
    if (scratch != null) scratch.deallocate();
  }
}

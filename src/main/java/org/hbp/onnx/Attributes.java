package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.List;

/** A node's attributes by name, with the ONNX defaults given by the caller. */
final class Attributes {
  private Attributes() {}

  static AttributeProto find(NodeProto n, String name) {
    for (AttributeProto a : n.getAttributeList()) if (a.getName().equals(name)) return a;
    return null;
  }

  static long integer(NodeProto n, String name, long fallback) {
    AttributeProto a = find(n, name);
    return a == null ? fallback : a.getI();
  }

  static double real(NodeProto n, String name, double fallback) {
    AttributeProto a = find(n, name);
    return a == null ? fallback : a.getF();
  }

  static String string(NodeProto n, String name, String fallback) {
    AttributeProto a = find(n, name);
    return a == null ? fallback : a.getS().toStringUtf8();
  }

  /** An integer list, or null when absent. */
  static List<Long> integers(NodeProto n, String name) {
    AttributeProto a = find(n, name);
    return a == null ? null : a.getIntsList();
  }
}

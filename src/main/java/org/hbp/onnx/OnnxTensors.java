package org.hbp.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.hbp.UserError;
import org.hbp.io.NdArray;

/**
 * ONNX tensors ({@code TensorProto}: initializers and {@code Constant} values) as row-major
 * {@link NdArray}s of doubles: float, double and the integer types, from the typed fields or from
 * {@code raw_data} (little-endian, as the ONNX specification fixes).
 */
final class OnnxTensors {
  private OnnxTensors() {}

  /** The tensor's entries; {@code what} names it in errors (file and initializer). */
  static NdArray toArray(TensorProto t, String what) {
    int[] shape = new int[t.getDimsCount()];
    long numel = 1;
    for (int i = 0; i < shape.length; i++) {
      long d = t.getDims(i);
      if (d < 0 || d > Integer.MAX_VALUE) throw new UserError(what + ": dimension " + d + " out of range");
      shape[i] = (int) d;
      numel *= d;
    }
    if (numel > NdArray.MAX_NUMEL) throw new UserError(what + ": " + numel + " entries, too many");
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL)
      throw new UserError(what + ": data stored in an external file; export with the data inside the model (torch.onnx.export of a model under 2 GB)");
    double[] d = entries(t, (int) numel, what);
    return NdArray.of(d, shape);
  }

  private static double[] entries(TensorProto t, int numel, String what) {
    int type = t.getDataType();
    boolean raw = !t.getRawData().isEmpty();
    ByteBuffer b = raw ? t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN) : null;
    double[] d = new double[numel];
    int width;
    switch (type) {
      case TensorProto.DataType.FLOAT_VALUE -> width = 4;
      case TensorProto.DataType.DOUBLE_VALUE, TensorProto.DataType.INT64_VALUE -> width = 8;
      case TensorProto.DataType.INT32_VALUE -> width = 4;
      default -> throw new UserError(what + ": element type " + TensorProto.DataType.forNumber(type)
          + " is not supported (float, double, int32 and int64 are)");
    }
    int count = raw ? b.remaining() / width
        : switch (type) {
          case TensorProto.DataType.FLOAT_VALUE -> t.getFloatDataCount();
          case TensorProto.DataType.DOUBLE_VALUE -> t.getDoubleDataCount();
          case TensorProto.DataType.INT64_VALUE -> t.getInt64DataCount();
          default -> t.getInt32DataCount();
        };
    if (count != numel) throw new UserError(what + ": " + count + " entries but its shape has " + numel);
    for (int i = 0; i < numel; i++)
      d[i] = switch (type) {
        case TensorProto.DataType.FLOAT_VALUE -> raw ? b.getFloat(4 * i) : t.getFloatData(i);
        case TensorProto.DataType.DOUBLE_VALUE -> raw ? b.getDouble(8 * i) : t.getDoubleData(i);
        case TensorProto.DataType.INT64_VALUE -> raw ? b.getLong(8 * i) : t.getInt64Data(i);
        default -> raw ? b.getInt(4 * i) : t.getInt32Data(i);
      };
    return d;
  }
}

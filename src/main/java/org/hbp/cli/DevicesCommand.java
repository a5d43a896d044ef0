package org.hbp.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import org.hbp.backend.opencl.OpenClBackend;
import org.hbp.backend.opencl.OpenClDevices;
import org.hbp.backend.opencl.OpenClException;
import picocli.CommandLine.Command;

/**
 * {@code hbp devices}: the OpenCL platforms and devices of this machine, one row per device with
 * the flat index that {@code --backend opencl-f32:INDEX} takes, and the properties the OpenCL
 * backend depends on. Exits with status 1 and one clear message (what was looked for, how to
 * install OpenCL) when there is no OpenCL platform or device.
 */
@Command(name = "devices",
    header = "List the OpenCL platforms and devices.",
    description = {
        "List the OpenCL platforms and devices: index (for --backend opencl-f32:INDEX / opencl-f64:INDEX), name, "
            + "vendor, OpenCL version, compute units, global memory, largest work-group and fp64 support (needed by "
            + "opencl-f64).",
        "A last line says how matrix products run: CLBlast (org.jocl:jocl-blast) where it loads, else the hand-written kernels "
            + "(and why); -Dhbp.opencl.gemm=kernels chooses the kernels.",
        "The default OpenCL device (opencl-f32 without an index) is the first GPU, else the first device."})
public final class DevicesCommand extends HbpCommand {
  /** Prints the listing; 1 (with the message on the error stream) when there is no OpenCL device. */
  @Override
  public Integer call() {
    PrintWriter w = out(), err = err();
    List<OpenClDevices.Device> devices;
    try {
      devices = OpenClDevices.list();
    } catch (OpenClException e) {
      err.println("hbp devices: " + e.getMessage());
      err.flush();
      return 1;
    }
    int defaultIndex = OpenClDevices.select(-1).index();
    w.print(table(devices, defaultIndex));
    w.println(OpenClBackend.productsNotice());
    w.flush();
    return 0;
  }

  /** The listing: per platform a heading, then one aligned row per device; the default device marked with *. */
  static String table(List<OpenClDevices.Device> devices, int defaultIndex) {
    StringBuilder b = new StringBuilder();
    int platform = -1;
    List<String[]> rows = new ArrayList<>();
    String[] header = {"index", "name", "vendor", "type", "version", "compute units", "global memory", "max work-group", "fp64"};
    for (OpenClDevices.Device d : devices) {
      if (d.platformIndex() != platform) {
        if (!rows.isEmpty()) {
          b.append(align(rows));
          rows.clear();
        }
        platform = d.platformIndex();
        b.append("platform ").append(platform).append(": ").append(d.platformName()).append(" (").append(d.platformVersion())
            .append(")\n");
        rows.add(header);
      }
      rows.add(new String[] {(d.index() == defaultIndex ? "*" : "") + d.index(), d.name(), d.vendor(), d.typeName(), d.version(),
          Integer.toString(d.computeUnits()), OpenClDevices.humanBytes(d.globalMemBytes()), Long.toString(d.maxWorkGroupSize()),
          d.fp64() ? "yes" : "no"});
    }
    if (!rows.isEmpty()) b.append(align(rows));
    b.append("* default device (the first GPU, else the first device); select another with --device opencl:INDEX (or --backend opencl-f32:INDEX)\n");
    return b.toString();
  }

  private static String align(List<String[]> rows) {
    int[] width = new int[rows.get(0).length];
    for (String[] r : rows) for (int c = 0; c < r.length; c++) width[c] = Math.max(width[c], r[c].length());
    StringBuilder b = new StringBuilder();
    for (String[] r : rows) {
      StringBuilder line = new StringBuilder("  ");
      for (int c = 0; c < r.length; c++) {
        if (c > 0) line.append("  ");
        boolean right = c == 0 || c == 5 || c == 6 || c == 7;
        String pad = " ".repeat(width[c] - r[c].length());
        line.append(right ? pad + r[c] : r[c] + pad);
      }
      b.append(line.toString().stripTrailing()).append('\n');
    }
    return b.toString();
  }
}

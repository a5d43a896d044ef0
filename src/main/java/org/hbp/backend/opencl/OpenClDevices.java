package org.hbp.backend.opencl;

import static org.jocl.CL.CL_DEVICE_DOUBLE_FP_CONFIG;
import static org.jocl.CL.CL_DEVICE_EXTENSIONS;
import static org.jocl.CL.CL_DEVICE_GLOBAL_MEM_SIZE;
import static org.jocl.CL.CL_DEVICE_LOCAL_MEM_SIZE;
import static org.jocl.CL.CL_DEVICE_MAX_COMPUTE_UNITS;
import static org.jocl.CL.CL_DEVICE_MAX_MEM_ALLOC_SIZE;
import static org.jocl.CL.CL_DEVICE_MAX_WORK_GROUP_SIZE;
import static org.jocl.CL.CL_DEVICE_NAME;
import static org.jocl.CL.CL_DEVICE_TYPE;
import static org.jocl.CL.CL_DEVICE_TYPE_ALL;
import static org.jocl.CL.CL_DEVICE_TYPE_GPU;
import static org.jocl.CL.CL_DEVICE_VENDOR;
import static org.jocl.CL.CL_DEVICE_VERSION;
import static org.jocl.CL.CL_DRIVER_VERSION;
import static org.jocl.CL.CL_PLATFORM_NAME;
import static org.jocl.CL.CL_PLATFORM_VERSION;
import static org.jocl.CL.clGetDeviceIDs;
import static org.jocl.CL.clGetDeviceInfo;
import static org.jocl.CL.clGetPlatformIDs;
import static org.jocl.CL.clGetPlatformInfo;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

/**
 * The OpenCL platforms and devices of this machine, through JOCL, as one flat list: the devices of
 * platform 0 (in the order the platform reports them, all device types), then those of platform 1,
 * and so on. A device's position in that list is its <b>index</b>, the number that {@code hbp
 * devices} prints and that {@code opencl-f32:INDEX} / {@code opencl-f64:INDEX} (see {@link
 * org.hbp.backend.Backends}) and {@link OpenClBackend#OpenClBackend(org.hbp.backend.Precision, int)}
 * take.
 *
 * <p>Discovery asks the OpenCL ICD loader ({@code libOpenCL.so.1}) every time; nothing is cached
 * here. When the loader is missing, or finds no platform or no device, {@link #list()} throws an
 * {@link OpenClException} whose message says what was looked for and how to install OpenCL ({@link
 * #INSTALL_HINT}). Thread-safe.
 */
public final class OpenClDevices {
  private OpenClDevices() {}

  /** How to get an OpenCL platform, appended to every "no OpenCL" message. */
  public static final String INSTALL_HINT = "To install OpenCL: on the CPU, `apt-get install ocl-icd-libopencl1 pocl-opencl-icd` "
      + "(the ICD loader and PoCL); on an NVIDIA GPU, NVIDIA's driver, registered in /etc/OpenCL/vendors/nvidia.icd or named by "
      + "the environment variable OCL_ICD_FILENAMES=libnvidia-opencl.so.1";

  /**
   * One OpenCL device, with the properties the backend and {@code hbp devices} use. The JOCL
   * handles are package-private.
   */
  public static final class Device {
    private final int index;
    private final int platformIndex;
    private final String platformName;
    private final String platformVersion;
    private final String name;
    private final String vendor;
    private final String version;
    private final String driverVersion;
    private final long type;
    private final int computeUnits;
    private final long globalMemBytes;
    private final long maxAllocBytes;
    private final long localMemBytes;
    private final long maxWorkGroupSize;
    private final boolean fp64;
    final cl_platform_id platform;
    final cl_device_id id;

    Device(int index, int platformIndex, String platformName, String platformVersion, cl_platform_id platform, cl_device_id id) {
      this.index = index;
      this.platformIndex = platformIndex;
      this.platformName = platformName;
      this.platformVersion = platformVersion;
      this.platform = platform;
      this.id = id;
      this.name = stringInfo(id, CL_DEVICE_NAME);
      this.vendor = stringInfo(id, CL_DEVICE_VENDOR);
      this.version = stringInfo(id, CL_DEVICE_VERSION);
      this.driverVersion = stringInfo(id, CL_DRIVER_VERSION);
      this.type = longInfo(id, CL_DEVICE_TYPE);
      this.computeUnits = intInfo(id, CL_DEVICE_MAX_COMPUTE_UNITS);
      this.globalMemBytes = longInfo(id, CL_DEVICE_GLOBAL_MEM_SIZE);
      this.maxAllocBytes = longInfo(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
      this.localMemBytes = longInfo(id, CL_DEVICE_LOCAL_MEM_SIZE);
      this.maxWorkGroupSize = sizeInfo(id, CL_DEVICE_MAX_WORK_GROUP_SIZE);
      String ext = stringInfo(id, CL_DEVICE_EXTENSIONS);
      boolean ext64 = (" " + ext + " ").contains(" cl_khr_fp64 ");
      long config = 0;
      try {
        config = longInfo(id, CL_DEVICE_DOUBLE_FP_CONFIG);
      } catch (CLException e) {
        // OpenCL 1.0/1.1 devices without the extension may refuse the query
      }
      this.fp64 = ext64 || config != 0;
    }

    /** Position in the flat list of all devices of all platforms. */
    public int index() {
      return index;
    }

    /** Position of the device's platform among the platforms. */
    public int platformIndex() {
      return platformIndex;
    }

    /** {@code CL_PLATFORM_NAME} of the device's platform. */
    public String platformName() {
      return platformName;
    }

    /** {@code CL_PLATFORM_VERSION}, e.g. {@code OpenCL 3.0 PoCL ...}. */
    public String platformVersion() {
      return platformVersion;
    }

    /** {@code CL_DEVICE_NAME}. */
    public String name() {
      return name;
    }

    /** {@code CL_DEVICE_VENDOR}. */
    public String vendor() {
      return vendor;
    }

    /** {@code CL_DEVICE_VERSION}, e.g. {@code OpenCL 3.0 CUDA}. */
    public String version() {
      return version;
    }

    /** {@code CL_DRIVER_VERSION}. */
    public String driverVersion() {
      return driverVersion;
    }

    /** Whether {@code CL_DEVICE_TYPE} includes {@code CL_DEVICE_TYPE_GPU}. */
    public boolean isGpu() {
      return (type & CL_DEVICE_TYPE_GPU) != 0;
    }

    /** {@code gpu}, {@code cpu}, {@code accelerator} or {@code other}. */
    public String typeName() {
      if (isGpu()) return "gpu";
      if ((type & CL.CL_DEVICE_TYPE_CPU) != 0) return "cpu";
      if ((type & CL.CL_DEVICE_TYPE_ACCELERATOR) != 0) return "accelerator";
      return "other";
    }

    /** {@code CL_DEVICE_MAX_COMPUTE_UNITS}. */
    public int computeUnits() {
      return computeUnits;
    }

    /** {@code CL_DEVICE_GLOBAL_MEM_SIZE} in bytes. */
    public long globalMemBytes() {
      return globalMemBytes;
    }

    /** {@code CL_DEVICE_MAX_MEM_ALLOC_SIZE}: the largest single buffer, in bytes. */
    public long maxAllocBytes() {
      return maxAllocBytes;
    }

    /** {@code CL_DEVICE_LOCAL_MEM_SIZE} in bytes. */
    public long localMemBytes() {
      return localMemBytes;
    }

    /** {@code CL_DEVICE_MAX_WORK_GROUP_SIZE}. */
    public long maxWorkGroupSize() {
      return maxWorkGroupSize;
    }

    /** Whether the device computes in double ({@code cl_khr_fp64}): needed by FLOAT64 backends. */
    public boolean fp64() {
      return fp64;
    }

    /** One line for messages: {@code 0: NAME (VENDOR, TYPE, VERSION)}. */
    public String describe() {
      return index + ": " + name + " (" + vendor + ", " + typeName() + ", " + version + ")";
    }

    @Override
    public String toString() {
      return describe();
    }
  }

  /**
   * Every device of every platform, in index order. Throws an {@link OpenClException} when the
   * OpenCL library cannot be loaded, when there is no platform, or when the platforms have no
   * device; the message says how to install OpenCL.
   */
  public static List<Device> list() {
    cl_platform_id[] platforms;
    try {
      CL.setExceptionsEnabled(true);
      int[] n = new int[1];
      clGetPlatformIDs(0, null, n);
      platforms = new cl_platform_id[n[0]];
      if (n[0] > 0) clGetPlatformIDs(n[0], platforms, null);
    } catch (CLException e) {
      throw noPlatform("the OpenCL ICD loader found no platform (" + e.getMessage() + ")", e);
    } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
      throw noPlatform("the OpenCL library (libOpenCL.so.1, through JOCL's natives) could not be loaded: " + e, e);
    }
    if (platforms.length == 0) throw noPlatform("the OpenCL ICD loader found no platform", null);
    List<Device> devices = new ArrayList<>();
    for (int p = 0; p < platforms.length; p++) {
      String pname = platformInfo(platforms[p], CL_PLATFORM_NAME), pversion = platformInfo(platforms[p], CL_PLATFORM_VERSION);
      cl_device_id[] ids;
      try {
        int[] n = new int[1];
        clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, null, n);
        ids = new cl_device_id[n[0]];
        if (n[0] > 0) clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, n[0], ids, null);
      } catch (CLException e) {
        continue; // CL_DEVICE_NOT_FOUND: a platform without devices
      }
      for (cl_device_id id : ids) devices.add(new Device(devices.size(), p, pname, pversion, platforms[p], id));
    }
    if (devices.isEmpty())
      throw noPlatform("the OpenCL ICD loader found " + platforms.length + " platform(s) but no device", null);
    return devices;
  }

  /**
   * The device with the given flat index, or, for index -1, the default device: the first GPU if
   * there is one, else the first device. An index out of range throws an {@link OpenClException}
   * listing the devices found and how to install OpenCL.
   */
  public static Device select(int index) {
    List<Device> devices = list();
    if (index == -1) {
      for (Device d : devices) if (d.isGpu()) return d;
      return devices.get(0);
    }
    if (index < 0 || index >= devices.size()) {
      StringBuilder found = new StringBuilder();
      for (Device d : devices) found.append(found.length() == 0 ? "" : "; ").append(d.describe());
      throw new OpenClException("no OpenCL device with index " + index + ": looked through all devices of all OpenCL platforms and found "
          + devices.size() + " (" + found + "); `hbp devices` lists them. " + INSTALL_HINT);
    }
    return devices.get(index);
  }

  /** Whether OpenCL has at least one device here (no exception; for tests and messages). */
  public static boolean available() {
    try {
      return !list().isEmpty();
    } catch (OpenClException e) {
      return false;
    }
  }

  private static OpenClException noPlatform(String what, Throwable cause) {
    String vendors = System.getenv("OCL_ICD_VENDORS"), files = System.getenv("OCL_ICD_FILENAMES");
    String looked = "looked for OpenCL platforms through the ICD loader libOpenCL.so.1, which reads the drivers listed in "
        + (vendors != null ? "OCL_ICD_VENDORS=" + vendors : "/etc/OpenCL/vendors/*.icd")
        + (files != null ? " and OCL_ICD_FILENAMES=" + files : "");
    return new OpenClException("no OpenCL device: " + what + "; " + looked + ". " + INSTALL_HINT, cause);
  }

  // ---- info queries ----------------------------------------------------------------------------

  private static String platformInfo(cl_platform_id p, int param) {
    long[] size = new long[1];
    clGetPlatformInfo(p, param, 0, null, size);
    byte[] buf = new byte[(int) size[0]];
    clGetPlatformInfo(p, param, buf.length, Pointer.to(buf), null);
    return cString(buf);
  }

  static String stringInfo(cl_device_id d, int param) {
    long[] size = new long[1];
    clGetDeviceInfo(d, param, 0, null, size);
    byte[] buf = new byte[(int) size[0]];
    clGetDeviceInfo(d, param, buf.length, Pointer.to(buf), null);
    return cString(buf);
  }

  private static String cString(byte[] buf) {
    int n = 0;
    while (n < buf.length && buf[n] != 0) n++;
    return new String(buf, 0, n, StandardCharsets.UTF_8).trim();
  }

  /** A cl_uint property. */
  static int intInfo(cl_device_id d, int param) {
    int[] v = new int[1];
    clGetDeviceInfo(d, param, Integer.BYTES, Pointer.to(v), null);
    return v[0];
  }

  /** A cl_ulong (or cl_bitfield) property. */
  static long longInfo(cl_device_id d, int param) {
    long[] v = new long[1];
    clGetDeviceInfo(d, param, Long.BYTES, Pointer.to(v), null);
    return v[0];
  }

  /** A size_t property (64-bit on the platforms JOCL ships natives for). */
  static long sizeInfo(cl_device_id d, int param) {
    long[] v = new long[1];
    clGetDeviceInfo(d, param, org.jocl.Sizeof.size_t, Pointer.to(v), null);
    return v[0];
  }

  /** Bytes in a human unit, for tables and messages: {@code 2.0 GiB}. */
  public static String humanBytes(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }
}

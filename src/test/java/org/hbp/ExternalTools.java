package org.hbp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.hbp.cli.Python;

/** Whether an external tool the tests use (node, python3 with numpy) is there; the PyTorch reference scripts. */
public final class ExternalTools {
  private ExternalTools() {}

  /**
   * Whether {@code command} starts and exits with status 0 within {@code timeoutSeconds}; false when
   * it cannot be started (not on the PATH) or is interrupted.
   */
  public static boolean succeeds(long timeoutSeconds, String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(timeoutSeconds, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Runs the PyTorch reference {@code script} of src/test/resources/torch with {@code args}, on the
   * python3 that has torch (CI installs python3-torch in .ci/run); fails with its log if it fails.
   * A missing torch is a failure, not a skip.
   *
   * <p>The scripts run in one Python process per JVM, {@code worker.py}, which imports torch once
   * (about 2 s, more than most scripts take) and runs each script as if started alone (its
   * docstring lists the state it puts back). {@code -Dhbp.test.torchWorker=false} starts a
   * process per script instead.
   */
  public static void runTorchScript(String script, String... args) throws Exception {
    if (!Boolean.parseBoolean(System.getProperty("hbp.test.torchWorker", "true"))) runTorchScriptAlone(script, args);
    else TorchWorker.run(scriptPath(script), List.of(args));
  }

  /** {@link #runTorchScript} in a Python process of its own, as {@code python3 script args}. */
  public static void runTorchScriptAlone(String script, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(python(), scriptPath(script)));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "python timed out");
    assertEquals(0, p.exitValue(), NEEDS_TORCH + log);
  }

  private static String scriptPath(String script) {
    return Path.of("src/test/resources/torch", script).toAbsolutePath().toString();
  }

  private static final String NEEDS_TORCH = "the PyTorch reference needs python3 with torch (.ci/run installs python3-torch):\n";

  private static String python() {
    return Python.withTorch().orElse("python3");
  }

  /** The one {@code worker.py} process of this JVM, started at its first script and again after it died or timed out. */
  private static final class TorchWorker {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TorchWorker current;

    private final Process process;
    private final BufferedWriter requests;
    private final BufferedReader replies;
    /** What the worker wrote to stderr (output below Python: C++ warnings, a crash), the latest 100-200 k characters. */
    private final StringBuilder stderr = new StringBuilder();
    private final Thread drain;

    private TorchWorker() throws IOException {
      process = new ProcessBuilder(python(), scriptPath("worker.py")).start();
      requests = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
      replies = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      drain = new Thread(() -> {
        try (BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = err.readLine()) != null; ) {
            synchronized (stderr) {
              stderr.append(line).append('\n');
              int n = stderr.length();
              if (n > 200_000) stderr.delete(0, n - 100_000); // keep the latest
            }
          }
        } catch (IOException e) {
          // the worker is gone; its reply, or its absence, says why
        }
      }, "torch-worker-stderr");
      drain.setDaemon(true);
      drain.start();
      Runtime.getRuntime().addShutdownHook(new Thread(process::destroy));
    }

    static synchronized void run(String script, List<String> args) throws Exception {
      if (current == null || !current.process.isAlive()) current = new TorchWorker();
      TorchWorker w = current;
      synchronized (w.stderr) {
        w.stderr.setLength(0);
      }
      ObjectNode request = JSON.createObjectNode().put("script", script);
      args.forEach(request.putArray("args")::add);
      String reply;
      ExecutorService reader = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "torch-worker-reply");
        t.setDaemon(true);
        return t;
      });
      try {
        w.requests.write(JSON.writeValueAsString(request));
        w.requests.newLine();
        w.requests.flush();
        reply = reader.submit(w.replies::readLine).get(600, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        w.stop();
        throw new AssertionError("python timed out: " + script + " " + args + "\n" + w.stderr());
      } catch (IOException | ExecutionException e) {
        reply = null;
      } catch (Throwable e) { // interrupted while the script runs: its reply would be taken for the next script's
        w.stop();
        throw e;
      } finally {
        reader.shutdownNow();
      }
      if (reply == null) { // the worker is gone: no torch, or the script ended the process
        w.process.waitFor(10, TimeUnit.SECONDS);
        w.drain.join(2000); // the last of its stderr
        current = null;
        String err = w.stderr();
        throw new AssertionError((err.contains("No module named 'torch'") ? NEEDS_TORCH : "") + "the PyTorch worker running " + script + " "
            + args + " exited" + (w.process.isAlive() ? "" : " with status " + w.process.exitValue()) + ":\n" + err);
      }
      JsonNode r = JSON.readTree(reply);
      assertEquals(0, r.get("status").asInt(), script + " " + args + " failed:\n" + r.get("log").asText() + w.stderr());
    }

    private void stop() {
      process.destroyForcibly();
      current = null;
    }

    private String stderr() {
      synchronized (stderr) {
        return stderr.toString();
      }
    }
  }
}

package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.hbp.backend.opencl.OpenClTestSupport;
import org.hbp.backend.cpu.CpuBackend;
import org.hbp.io.DType;
import org.hbp.io.NdArray;
import org.hbp.io.Npy;
import org.hbp.io.Npz;
import org.hbp.network.ModuleLibrary;
import org.hbp.network.Network;
import org.hbp.network.NetworkResolver;
import org.hbp.network.TorchLayout;
import org.hbp.train.Initialization;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every shell command of README.md, as a user would paste it.
 *
 * <p><b>Which text is a command.</b> The README's code fences carry no language for shell blocks
 * (plain {@code ```}); a fenced block (at any indentation) is a shell block when its fence says
 * {@code bash}, {@code sh}, {@code shell} or {@code console}, or when it has no language and one of
 * its lines starts with a command word of {@link #COMMAND_WORDS}. {@code hbp SUBCOMMAND ...} without
 * {@code ./} is a usage synopsis ({@code [--format text|latex|json]}), not a command. Inline code
 * spans that start with {@code ./hbp } are commands too. A shell block's logical lines (joined at
 * a trailing backslash) are commands; comments and blank lines are not.
 *
 * <p><b>What is checked.</b> Every shell block passes {@code bash -n}. Every {@code ./hbp} command
 * is tokenised by bash itself ({@link #bashWords}): a restricted bash with no {@code PATH} evaluates
 * the line with {@code ./hbp} replaced by a function that prints its arguments NUL-separated, so
 * an unquoted {@code (}, a broken quote or a second command on the line fails the test. Then:
 * <ul>
 *   <li>the commands of {@link #RUN} are run in this JVM through {@link Main#execute}, from the
 *       repository root (so {@code networks/...} and {@code modules-spec/...} resolve), and must exit
 *       with status 0; where the README shows the output (an untagged block right after a block of
 *       one command) standard output must match it line by line, a line {@code ...} standing for any
 *       number of lines;</li>
 *   <li>the commands of {@link #PARSE_ONLY} (each with its reason: minutes of training,
 *       benchmarking, or inputs that only such a run makes) are parsed by picocli with hbp's
 *       command tree, which also runs the options' converters (a wrong choice fails), and not
 *       executed;</li>
 *   <li>other command words ({@link #SKIPPED}: Maven, the GPU check script) are listed and skipped;
 *       a command word in no list fails the test, so a new kind of command must be classified.</li>
 * </ul>
 *
 * <p><b>Files.</b> Nothing is written into the repository. A relative path argument (a token, or
 * the part after {@code =} of {@code --at NAME=FILE}) that does not exist in the repository, and
 * every value of {@code --out}, is resolved in a temporary folder instead. There the test first
 * writes the files the README asks the user to make: the worked example's spec
 * ({@code my-specs/softsign.hbp}, taken from the README's own block), {@code x.npy},
 * {@code A.npy} for the ad-hoc derivative with {@code --at}, and for {@code hbp curvature} of
 * {@code networks/fc.hbp} the files its PyTorch snippet exports ({@code params.npz}: Xavier-normal
 * weights under PyTorch's names and shapes, {@code batch.npz}: 2 random images and their classes)
 * and {@code V.npz} (one random direction per parameter).
 */
class ReadmeCommandsTest {
  static final Path README = Path.of("README.md");

  /** First words that make an untagged fenced block a shell block. */
  static final Set<String> COMMAND_WORDS = Set.of("./hbp", "mvn", "scripts/gpu-check.sh");

  /** Shell commands that are not hbp: listed, not run (they build, test or run on another machine). */
  static final Map<String, String> SKIPPED = Map.of(
      "mvn", "Maven: the test suite itself runs under it",
      "scripts/gpu-check.sh", "builds a 61 MiB payload, or runs the GPU suite on an NVIDIA machine");

  /** hbp commands run in-process: each takes seconds. */
  static final Set<String> RUN = Set.of("derive", "verify", "generate", "devices", "curvature", "spectrum", "import", "gradients");

  /** hbp commands whose arguments are only parsed, and why. */
  static final Map<String, String> PARSE_ONLY = Map.of(
      "demo", "derives and verifies every spec and trains two nets: about 40 s",
      "train", "trains for seconds to minutes (measured figures are in the README)",
      "experiment", "trains many configurations: minutes to hours",
      "bench", "times passes with warm-up until the JIT compiler is idle: minutes",
      "plot", "reads the run folders the train commands write, which this test does not run");

  @TempDir static Path tmp;

  /** One fenced code block: the line of its opening fence (1-based), its language, its lines without the fence's indent. */
  record Block(int line, String info, List<String> lines) {
    String text() {
      return String.join("\n", lines);
    }
  }

  /** One command: the README line where it starts, its text, and the block it is in (null for an inline span). */
  record Command(int line, String text, Block block) {
    String word() {
      return text.strip().split("\\s+", 2)[0];
    }

    String where() {
      return "README.md:" + line;
    }
  }

  static List<String> readme() throws IOException {
    return Files.readAllLines(README, StandardCharsets.UTF_8);
  }

  private static final Pattern FENCE = Pattern.compile("^( *)```(\\w*)\\s*$");

  /** The fenced code blocks of {@code lines}, in order. */
  static List<Block> blocks(List<String> lines) {
    List<Block> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = FENCE.matcher(lines.get(i));
      if (!m.matches()) continue;
      String indent = m.group(1);
      List<String> body = new ArrayList<>();
      int j = i + 1;
      while (j < lines.size() && !lines.get(j).equals(indent + "```")) {
        String l = lines.get(j);
        body.add(l.startsWith(indent) ? l.substring(indent.length()) : l.strip());
        j++;
      }
      assertTrue(j < lines.size(), "README.md:" + (i + 1) + ": code block without its closing fence");
      out.add(new Block(i + 1, m.group(2), body));
      i = j;
    }
    return out;
  }

  static boolean isShell(Block b) {
    if (Set.of("bash", "sh", "shell", "console").contains(b.info())) return true;
    return b.info().isEmpty() && b.lines().stream().anyMatch(l -> COMMAND_WORDS.contains(firstWord(l)));
  }

  private static String firstWord(String line) {
    String s = line.strip();
    return s.isEmpty() ? "" : s.split("\\s+", 2)[0];
  }

  /** The commands of a shell block: logical lines (joined at a trailing backslash), without comment and blank lines. */
  static List<Command> commands(Block b) {
    List<Command> out = new ArrayList<>();
    List<String> lines = b.lines();
    for (int i = 0; i < lines.size(); i++) {
      int start = i;
      StringBuilder text = new StringBuilder(lines.get(i));
      while (lines.get(i).endsWith("\\") && i + 1 < lines.size()) text.append('\n').append(lines.get(++i));
      String s = text.toString().strip();
      if (s.isEmpty() || s.startsWith("#")) continue;
      out.add(new Command(b.line() + 1 + start, s, b));
    }
    return out;
  }

  private static final Pattern INLINE = Pattern.compile("`(\\./hbp [^`]+)`");

  /** Every command of the README: those of shell blocks and inline spans {@code `./hbp ...`} outside blocks. */
  static List<Command> allCommands() throws IOException {
    List<String> lines = readme();
    List<Block> blocks = blocks(lines);
    List<Command> out = new ArrayList<>();
    boolean[] inBlock = new boolean[lines.size() + 2];
    for (Block b : blocks) {
      for (int l = b.line(); l <= b.line() + b.lines().size() + 1; l++) inBlock[l] = true;
    }
    int bi = 0;
    for (int i = 0; i < lines.size(); i++) {
      while (bi < blocks.size() && blocks.get(bi).line() == i + 1) {
        if (isShell(blocks.get(bi))) out.addAll(commands(blocks.get(bi)));
        bi++;
      }
      if (inBlock[i + 1]) continue;
      Matcher m = INLINE.matcher(lines.get(i));
      while (m.find()) out.add(new Command(i + 1, m.group(1), null));
    }
    return out;
  }

  // ---- tokenising with bash --------------------------------------------------------------------

  private static final String BEGIN = "HBP-ARGS", END = "HBP-END";

  /**
   * The words bash makes of an {@code ./hbp} command line: a restricted bash (no {@code PATH}, no
   * redirections, no commands with a slash) runs it from the repository root with {@code ./hbp}
   * replaced by a function that prints its arguments NUL-separated between two markers. Fails
   * with bash's message when the line is not exactly one call of that function.
   */
  static List<String> bashWords(Command c) throws IOException, InterruptedException {
    assertTrue(c.text().startsWith("./hbp"), c.where() + ": not an hbp command: " + c.text());
    String script = "hbp_args() { printf '%s\\0' " + BEGIN + " \"$@\" " + END + "; }\n"
        + "hbp_args" + c.text().substring("./hbp".length()) + "\n";
    ProcessBuilder pb = new ProcessBuilder("bash", "--norc", "--noprofile", "-r", "-c", script);
    pb.environment().clear();
    pb.environment().put("PATH", "/nonexistent");
    pb.environment().put("LC_ALL", "C");
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "bash did not finish");
    List<String> words = Arrays.asList(new String(out, StandardCharsets.UTF_8).split("\0", -1));
    boolean one = words.size() >= 3 && words.get(0).equals(BEGIN) && words.get(words.size() - 2).equals(END)
        && words.get(words.size() - 1).isEmpty() && words.subList(1, words.size() - 2).stream().noneMatch(w -> w.equals(BEGIN) || w.equals(END));
    if (p.exitValue() != 0 || !err.isEmpty() || !one) {
      fail(c.where() + ": bash does not read this as one hbp command (exit " + p.exitValue() + "): " + err.strip()
          + "\n  " + c.text());
    }
    return words.subList(1, words.size() - 2);
  }

  /** {@code bash -n} on a shell block: its syntax, without running anything. */
  static String bashSyntaxError(Block b) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("bash", "--norc", "--noprofile", "-n", "-c", b.text()).redirectErrorStream(true).start();
    String msg = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    return p.exitValue() == 0 ? null : msg.strip();
  }

  // ---- paths -----------------------------------------------------------------------------------

  /** Options whose value is a path, whatever it looks like. */
  private static final Set<String> PATH_OPTIONS = Set.of("--specs", "--net", "--params", "--batch", "--vectors", "--dense", "--out");

  private static final Pattern RELATIVE_PATH = Pattern.compile("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?");

  private static boolean looksLikePath(String s) {
    return RELATIVE_PATH.matcher(s).matches() && !s.startsWith("-")
        && (s.contains("/") || s.matches(".*\\.(npy|npz|hbp|json|csv|png)"));
  }

  /** The arguments with outputs and files the user makes moved into {@link #tmp} (see the class comment). */
  static String[] relocate(List<String> words) {
    String[] a = words.toArray(String[]::new);
    for (int i = 0; i < a.length; i++) {
      boolean output = i > 0 && a[i - 1].equals("--out");
      boolean pathOption = i > 0 && PATH_OPTIONS.contains(a[i - 1]);
      int eq = a[i].indexOf('=');
      if (!output && eq > 0 && !a[i].startsWith("-") && looksLikePath(a[i].substring(eq + 1)) && !Files.exists(Path.of(a[i].substring(eq + 1)))) {
        a[i] = a[i].substring(0, eq + 1) + elsewhere(a[i].substring(eq + 1));
      } else if (output || ((pathOption || looksLikePath(a[i])) && !Files.exists(Path.of(a[i])))) {
        a[i] = elsewhere(a[i]);
      }
    }
    return a;
  }

  private static String elsewhere(String path) {
    return tmp.resolve(path).toString();
  }

  // ---- fixtures --------------------------------------------------------------------------------

  /** The files the README asks the user to make, written into {@link #tmp}. */
  static void writeUserFiles(List<Block> blocks) throws IOException {
    Block spec = blocks.stream().filter(b -> b.text().contains("module softsign_layer")).findFirst()
        .orElseThrow(() -> new AssertionError("README: the worked example's spec (module softsign_layer) is gone"));
    Files.createDirectories(tmp.resolve("my-specs"));
    Files.writeString(tmp.resolve("my-specs/softsign.hbp"), spec.text() + "\n");
    Npy.write(tmp.resolve("x.npy"), NdArray.of(new double[] {0.5, -1, 2}, 3));
    Npy.write(tmp.resolve("A.npy"), NdArray.of(A, 3, 3));
    writeFcFiles();
    writeParams("networks/inception.hbp", "inception-params.npz");
    writeParams("networks/two_inputs.hbp", "two-inputs-params.npz");
  }

  /** Xavier-normal parameters of a network in PyTorch's names and shapes (float32), for a README command on it. */
  private static void writeParams(String network, String file) throws IOException {
    Network net = new Network(NetworkResolver.load(Path.of(network), null, ModuleLibrary.builtInSpecDirs()), ModuleLibrary.forSpecs(), new CpuBackend());
    Map<String, NdArray> params = new LinkedHashMap<>();
    Initialization.xavierNormalTorch(net, 5).forEach((name, a) -> params.put(name, NdArray.of(a.data(), DType.FLOAT32, a.shape())));
    Npz.write(tmp.resolve(file), params);
  }

  /** params.npz, batch.npz and V.npz for networks/fc.hbp, as the README's PyTorch snippet describes them (float32). */
  private static void writeFcFiles() throws IOException {
    Network fc = new Network(NetworkResolver.load(Path.of("networks/fc.hbp"), null, ModuleLibrary.builtInSpecDirs()),
        ModuleLibrary.forSpecs(), new CpuBackend());
    TorchLayout layout = new TorchLayout(fc);
    Map<String, NdArray> params = new LinkedHashMap<>(), directions = new LinkedHashMap<>();
    Random rng = new Random(5);
    Initialization.xavierNormalTorch(fc, 5).forEach((name, a) -> {
      String torch = name.replace(".W", ".weight").replace(".b", ".bias"); // '1.weight', '1.bias', ... as state_dict() names them
      params.put(torch, NdArray.of(a.data(), DType.FLOAT32, a.shape()));
      int[] s = layout.torchShape(name), v = new int[s.length + 1];
      v[0] = 1;
      System.arraycopy(s, 0, v, 1, s.length);
      double[] d = new double[a.data().length];
      for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
      directions.put(torch, NdArray.of(d, DType.FLOAT32, v));
    });
    Npz.write(tmp.resolve("params.npz"), params);
    Npz.write(tmp.resolve("V.npz"), directions);
    double[] x = new double[2 * 3 * 32 * 32];
    for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian();
    Npz.write(tmp.resolve("batch.npz"), Map.of("x", NdArray.of(x, DType.FLOAT32, 2, 3, 32, 32), "y", NdArray.of(new double[] {3, 7}, DType.INT64, 2)));
  }

  /** A.npy, row-major: the Hessian of x'*A*x is A + A'. */
  private static final double[] A = {1, 2, 3, 4, 5, 6, 7, 8, 10};

  // ---- expected output -------------------------------------------------------------------------

  /** The output block the README shows for a command: the untagged, non-shell block right after its block, if that block has one command. */
  static List<String> shownOutput(Command c, List<Block> blocks, List<String> lines) {
    if (c.block() == null || commands(c.block()).size() != 1) return null;
    int end = c.block().line() + c.block().lines().size() + 1; // the closing fence, 1-based
    for (Block b : blocks) {
      if (b.line() == end + 1 && b.info().isEmpty() && !isShell(b)) return b.lines();
    }
    return null;
  }

  /** Whether {@code actual} matches {@code expected} line by line (trailing blanks ignored), a line {@code ...} matching any lines. */
  static boolean matches(List<String> expected, int e, List<String> actual, int a) {
    if (e == expected.size()) return a == actual.size();
    String x = expected.get(e).strip();
    if (x.equals("...")) {
      for (int k = a; k <= actual.size(); k++) if (matches(expected, e + 1, actual, k)) return true;
      return false;
    }
    return a < actual.size() && expected.get(e).stripTrailing().equals(actual.get(a).stripTrailing()) && matches(expected, e + 1, actual, a + 1);
  }

  /** What the README's prose says a command prints, for commands without an output block: by the start of the command. */
  static final Map<String, List<String>> SAID = Map.of(
      "./hbp derive modules-spec/sigmoid.hbp",
      List.of("diag(dz .* sigmoid(x) .* (1 - 2*sigmoid(x)) .* (1 - sigmoid(x)))", "sigmoid'(x)", "sigmoid''(x)"),
      "./hbp derive my-specs/softsign.hbp",
      List.of("diag(softsign'(x))", "diag(dz .* softsign''(x))", "Hx = diag(softsign'(x))*Hz*diag(softsign'(x)) + diag(dz .* softsign''(x))"),
      "./hbp verify my-specs/softsign.hbp",
      List.of("22 method checks, 0 failed", "AGREES", "no difference found at 400 random points, half of them at scaled values; canonical forms differ"));

  /** What the README's prose says a command writes, checked after it ran. */
  private static void checkWritten(Command c) throws IOException {
    if (c.text().startsWith("./hbp curvature") && c.text().contains("--vectors V.npz --out HV.npz")) {
      // "OUT.npz holds the products, with the same names and shapes"
      Map<String, NdArray> v = Npz.read(tmp.resolve("V.npz")), hv = Npz.read(tmp.resolve("HV.npz"));
      assertEquals(v.keySet(), hv.keySet());
      v.forEach((k, a) -> assertEquals(Arrays.toString(a.shape()), Arrays.toString(hv.get(k).shape()), k));
    }
    if (c.text().startsWith("./hbp spectrum") && c.text().contains("--scope block:15.weight --top 3 --trace --density --out spectrum")) {
      // "writes into the folder spectrum/": the JSON numbers of block 15.W, the arrays and the plot
      String json = Files.readString(tmp.resolve("spectrum/spectrum.json"));
      assertTrue(json.contains("\"15.W\"") && json.contains("\"top\"") && json.contains("\"trace\"") && json.contains("\"density\""), json);
      for (String f : List.of("eigenvectors.npz", "diagonal.npz", "density-15.W.png")) assertTrue(Files.exists(tmp.resolve("spectrum").resolve(f)), f);
    }
    if (c.text().startsWith("./hbp spectrum") && c.text().contains("--blocks layer --scope block:15 --top 3 --trace --out spectrum-layer")) {
      // "writes spectrum-layer/spectrum.json with the block "15" ... eigenvectors.npz with 15.weight ([3, 10, 16]) and 15.bias ([3, 10])"
      String json = Files.readString(tmp.resolve("spectrum-layer/spectrum.json"));
      assertTrue(json.contains("\"15\" : {") && json.contains("\"parameters\" : [ \"15.weight\", \"15.bias\" ]") && json.contains("\"dimension\" : 170"), json);
      Map<String, NdArray> vectors = Npz.read(tmp.resolve("spectrum-layer/eigenvectors.npz"));
      assertEquals("[3, 10, 16]", Arrays.toString(vectors.get("15.weight").shape()));
      assertEquals("[3, 10]", Arrays.toString(vectors.get("15.bias").shape()));
      assertTrue(Files.exists(tmp.resolve("spectrum-layer/diagonal.npz")));
    }
    if (c.text().startsWith("./hbp generate --specs my-specs --out src/main/java --package com.example.ops")) {
      // "writes com/example/ops/SoftsignLayerOperator.java"
      String java = Files.readString(tmp.resolve("src/main/java/com/example/ops/SoftsignLayerOperator.java"));
      assertTrue(java.startsWith("package com.example.ops;") || java.contains("\npackage com.example.ops;"), java);
    }
    if (c.text().startsWith("./hbp derive -e \"x'*A*x\"") && c.text().contains("--out H.npy")) {
      // the Hessian of x'*A*x is A + A', whatever x is
      NdArray h = Npy.read(tmp.resolve("H.npy"));
      assertEquals(List.of(3, 3), Arrays.stream(h.shape()).boxed().toList());
      for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) assertEquals(A[3 * i + j] + A[3 * j + i], h.get(i, j), 1e-12, "H[" + i + ", " + j + "]");
      }
    }
  }

  // ---- the tests -------------------------------------------------------------------------------

  @Test
  void everyShellBlockPassesBashSyntaxCheck() throws Exception {
    List<String> bad = new ArrayList<>();
    List<Block> shell = blocks(readme()).stream().filter(ReadmeCommandsTest::isShell).toList();
    assertTrue(shell.size() >= 8, "README.md: expected the shell blocks, found " + shell.size());
    for (Block b : shell) {
      String err = bashSyntaxError(b);
      if (err != null) bad.add("README.md:" + b.line() + ": " + err);
    }
    assertEquals(List.of(), bad);
  }

  @Test
  void everyCommandIsClassified() throws Exception {
    List<String> unknown = new ArrayList<>();
    for (Command c : allCommands()) {
      if (SKIPPED.containsKey(c.word())) continue;
      if (!c.word().equals("./hbp")) {
        unknown.add(c.where() + ": " + c.text());
        continue;
      }
      String[] w = c.text().split("\\s+");
      if (w.length < 2 || !(RUN.contains(w[1]) || PARSE_ONLY.containsKey(w[1]))) unknown.add(c.where() + ": " + c.text());
    }
    assertEquals(List.of(), unknown, "commands that are neither run, parsed nor skipped by a rule of this test");
  }

  /** The tokeniser itself: what broke pasting must fail, and quoting must come through. */
  @Test
  void bashTokeniserRefusesWhatAUserShellRefuses() throws Exception {
    Command quoted = new Command(1, "./hbp derive -e \"x'*A*x\" --var 'X:matrix(n,n)' \\\n    --at x=x.npy # comment", null);
    assertEquals(List.of("derive", "-e", "x'*A*x", "--var", "X:matrix(n,n)", "--at", "x=x.npy"), bashWords(quoted));
    for (String bad : List.of("./hbp derive --var X:matrix(n,n)", "./hbp verify --expect 'x: W'*Hz*W'",
        "./hbp derive a; ./hbp derive b", "./hbp derive a > out.txt", "./hbp derive \"unclosed")) {
      AssertionError e = null;
      try {
        bashWords(new Command(1, bad, null));
      } catch (AssertionError x) {
        e = x;
      }
      assertTrue(e != null, "accepted: " + bad);
    }
  }

  @TestFactory
  Stream<DynamicTest> everyReadmeCommand() throws Exception {
    List<String> lines = readme();
    List<Block> blocks = blocks(lines);
    writeUserFiles(blocks);
    List<Command> commands = allCommands();
    assertTrue(commands.size() >= 20, "README.md: expected its commands, found " + commands.size());
    return commands.stream().filter(c -> !SKIPPED.containsKey(c.word()))
        .map(c -> DynamicTest.dynamicTest(c.where() + " " + c.text().replaceAll("\\s*\\\\\\n\\s*", " "), () -> check(c, blocks, lines)));
  }

  private static void check(Command c, List<Block> blocks, List<String> lines) throws Exception {
    List<String> words = bashWords(c);
    String sub = words.get(0);
    if (PARSE_ONLY.containsKey(sub)) {
      Main.commandLine().parseArgs(words.toArray(String[]::new));
      return;
    }
    assertTrue(RUN.contains(sub), c.where() + ": unclassified command " + sub);
    if (sub.equals("devices")) OpenClTestSupport.requireOpenCl();
    CliRun r = CliRun.hbp(relocate(words));
    assertEquals(0, r.code(), () -> c.where() + ": exit status of\n  " + c.text() + "\nout:\n" + r.out() + "err:\n" + r.err());
    List<String> shown = shownOutput(c, blocks, lines);
    if (shown != null) {
      assertTrue(matches(shown, 0, r.outLines(), 0),
          () -> c.where() + ": the output differs from the README's block:\n" + String.join("\n", shown) + "\n--- printed:\n" + r.out());
    }
    SAID.forEach((start, texts) -> {
      if (c.text().startsWith(start)) r.assertOutContains(texts.toArray(String[]::new));
    });
    checkWritten(c);
  }
}

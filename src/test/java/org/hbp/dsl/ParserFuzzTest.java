package org.hbp.dsl;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.hbp.derive.Formats;
import org.hbp.derive.ModuleRules;
import org.hbp.network.NetworkResolver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property-based fuzzing of the front end with a seeded generator: every spec of modules-spec/ and
 * networks/ mutated (characters and tokens deleted, inserted, duplicated, swapped; keywords,
 * numbers, huge numbers, deep nesting and non-ASCII characters or bytes inserted) is parsed,
 * checked, derived and printed, and networks resolved against the built-in modules. The property:
 * each case either succeeds or throws a {@link DslException} whose message starts with
 * {@code file:line:col:}; no other exception, and each case within a time bound.
 *
 * <p>Case i of seed s is generated from {@code new Random(s * 1_000_003 + i)} alone, so a failure
 * (which prints both) replays with {@code -Dhbp.fuzz.seed=s -Dhbp.fuzz.case=i}; more cases run with
 * {@code -Dhbp.fuzz.cases=N}.
 */
class ParserFuzzTest {
  private static final long SEED = Long.getLong("hbp.fuzz.seed", 14L);
  private static final int CASES = Integer.getInteger("hbp.fuzz.cases", 300);
  private static final Integer ONLY = Integer.getInteger("hbp.fuzz.case");
  /** Stop starting new cases after this long (a loaded machine runs fewer; each case is independent). */
  private static final long BUDGET_MILLIS = Long.getLong("hbp.fuzz.millis", 25_000L);
  private static final long CASE_SECONDS = 20;
  private static final String SOURCE = "fuzz.hbp";

  private static final String[] KEYWORDS = {"module", "loss", "network", "elementwise", "dims", "input", "param", "data", "index", "target",
      "output", "assume", "residual", "d1", "d2", "scalar", "vector", "matrix", "tensor", "sum", "kron", "vec", "unfold", "gather",
      "softmax", "sigmoid", "exp", "log", "inv", "det", "eye", "ones", "zeros", "reshape", "max", "min", "'", ".*", "./", ".^", "==", ";",
      "{", "}", "(", ")", ",", "=", ":", "*", "/", "+", "-"};
  private static final String[] NUMBERS = {"0", "1", "2", "-1", "0.5", "1e400", "1e-400", "3.", "99999999999999999999", "2147483647",
      "2147483648", "4294967296", "9223372036854775807", "9223372036854775808", "123456789012345678901234567890", "00000000007"};
  private static final String[] ODD = {"\u00e9", "\u00fc", "\u4e2d", "\ud83d\ude00", "\u0000", "\uffff", "\ufeff", "\t", "\r", "\u00a0",
      "\\", "\"", "#", "@", "$", "`", "//", "/*", "*/"};

  @TempDir Path tmp;

  @Test
  void mutatedSpecsGiveSuccessOrPositionedErrors() throws Exception {
    List<String> corpus = corpus();
    List<ModuleSpec> library = NetworkResolver.library(List.of(Path.of("modules-spec")));
    ExecutorService runner = Executors.newSingleThreadExecutor(r -> new Thread(null, r, "fuzz", 1L << 29));
    long start = System.currentTimeMillis();
    int run = 0;
    try {
      for (int i = 0; i < CASES; i++) {
        if (ONLY != null && i != ONLY) continue;
        if (ONLY == null && System.currentTimeMillis() - start > BUDGET_MILLIS) break;
        Random rng = new Random(SEED * 1_000_003L + i);
        Case c = mutate(corpus.get(rng.nextInt(corpus.size())), rng);
        Path file = tmp.resolve("case" + i + ".hbp");
        if (c.bytes != null) Files.write(file, c.bytes);
        final int index = i;
        Future<?> f = runner.submit(() -> {
          check(index, c, file, library);
          return null;
        });
        try {
          f.get(CASE_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
          f.cancel(true);
          fail(replay(i) + ": took more than " + CASE_SECONDS + " s on\n" + shown(c));
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof AssertionError a) throw a;
          throw new AssertionError(replay(i) + ": " + cause + " on\n" + shown(c), cause);
        }
        run++;
      }
    } finally {
      runner.shutdownNow();
    }
    if (run == 0) fail("no fuzz case ran");
    System.out.println("ParserFuzzTest: " + run + " cases of seed " + SEED + " passed (" + SUCCEEDED.get() + " parsed and derived, "
        + (run - SUCCEEDED.get()) + " positioned errors)");
    if (ONLY == null && (SUCCEEDED.get() == 0 || SUCCEEDED.get() == run)) fail("the mutations should give both successes and errors");
  }

  /** Cases that succeeded (the rest gave positioned errors): reported, so that a corpus that only errs shows. */
  private static final java.util.concurrent.atomic.AtomicInteger SUCCEEDED = new java.util.concurrent.atomic.AtomicInteger();

  /** One case: parse, check, derive and print every module, resolve every network. */
  private static void check(int index, Case c, Path file, List<ModuleSpec> library) {
    String source = c.bytes != null ? file.toString() : SOURCE;
    try {
      Spec spec = c.bytes != null ? Dsl.parseFile(file) : Dsl.parse(c.text, SOURCE);
      for (ModuleSpec m : spec.modules()) Formats.text(m, ModuleRules.derive(m));
      for (ParsedNetwork n : spec.networks()) NetworkResolver.resolve(spec, n.name(), library);
      SUCCEEDED.incrementAndGet();
    } catch (DslException e) {
      String message = e.getMessage();
      Matcher m = Pattern.compile("^" + Pattern.quote(source) + ":(\\d+):(\\d+): .+", Pattern.DOTALL).matcher(message);
      if (!m.matches() || Integer.parseInt(m.group(1)) < 1 || Integer.parseInt(m.group(2)) < 1)
        throw new AssertionError(replay(index) + ": an error without a position: " + message + "\non\n" + shown(c));
    } catch (StackOverflowError e) {
      throw new AssertionError(replay(index) + ": stack overflow on\n" + shown(c));
    } catch (RuntimeException e) {
      throw new AssertionError(replay(index) + ": " + e + " (not a positioned DslException) on\n" + shown(c), e);
    }
  }

  private static String replay(int i) {
    return "fuzz case " + i + " of seed " + SEED + " (replay: -Dhbp.fuzz.seed=" + SEED + " -Dhbp.fuzz.case=" + i + ")";
  }

  private static String shown(Case c) {
    String s = c.text != null ? c.text : new String(c.bytes, StandardCharsets.ISO_8859_1);
    return s.length() > 3000 ? s.substring(0, 3000) + "\n... (" + s.length() + " characters)" : s;
  }

  private static List<String> corpus() throws IOException {
    List<String> out = new ArrayList<>();
    for (String dir : new String[] {"modules-spec", "networks"})
      try (Stream<Path> s = Files.list(Path.of(dir))) {
        for (Path p : s.filter(p -> p.toString().endsWith(".hbp")).sorted().toList()) out.add(Files.readString(p));
      }
    if (out.size() < 20) throw new IllegalStateException("the fuzz corpus is too small: " + out.size());
    return out;
  }

  /** A mutated spec: text, or (for byte-level mutations) the bytes of a file. */
  private record Case(String text, byte[] bytes) {}

  private static Case mutate(String spec, Random rng) {
    String s = spec;
    int mutations = 1 + rng.nextInt(4);
    for (int k = 0; k < mutations; k++) s = mutateOnce(s, rng);
    if (rng.nextInt(10) == 0) return new Case(null, mutateBytes(s.getBytes(StandardCharsets.UTF_8), rng));
    return new Case(s, null);
  }

  private static String mutateOnce(String s, Random rng) {
    int at = s.isEmpty() ? 0 : rng.nextInt(s.length() + 1);
    List<int[]> tokens = tokens(s);
    switch (rng.nextInt(12)) {
      case 0: { // delete characters
        int n = 1 + rng.nextInt(Math.max(1, Math.min(20, s.length() - at)));
        return s.substring(0, at) + s.substring(Math.min(s.length(), at + n));
      }
      case 1: // insert a printable character
        return s.substring(0, at) + (char) (32 + rng.nextInt(95)) + s.substring(at);
      case 2: { // duplicate a substring
        int n = Math.min(s.length() - at, 1 + rng.nextInt(40));
        return s.substring(0, at + n) + s.substring(at, at + n) + s.substring(at + n);
      }
      case 3: { // swap two characters
        if (s.length() < 2) return s;
        char[] c = s.toCharArray();
        int i = rng.nextInt(c.length), j = rng.nextInt(c.length);
        char t = c[i];
        c[i] = c[j];
        c[j] = t;
        return new String(c);
      }
      case 4: { // delete a token
        if (tokens.isEmpty()) return s;
        int[] t = tokens.get(rng.nextInt(tokens.size()));
        return s.substring(0, t[0]) + s.substring(t[1]);
      }
      case 5: { // duplicate a token
        if (tokens.isEmpty()) return s;
        int[] t = tokens.get(rng.nextInt(tokens.size()));
        return s.substring(0, t[1]) + " " + s.substring(t[0], t[1]) + s.substring(t[1]);
      }
      case 6: { // swap two tokens
        if (tokens.size() < 2) return s;
        int[] a = tokens.get(rng.nextInt(tokens.size())), b = tokens.get(rng.nextInt(tokens.size()));
        if (a[0] > b[0]) {
          int[] t = a;
          a = b;
          b = t;
        }
        if (a[1] > b[0]) return s;
        return s.substring(0, a[0]) + s.substring(b[0], b[1]) + s.substring(a[1], b[0]) + s.substring(a[0], a[1]) + s.substring(b[1]);
      }
      case 7: // insert a keyword or operator
        return s.substring(0, at) + " " + KEYWORDS[rng.nextInt(KEYWORDS.length)] + " " + s.substring(at);
      case 8: { // replace a number token, or insert a number
        String n = NUMBERS[rng.nextInt(NUMBERS.length)];
        for (int[] t : tokens)
          if (Character.isDigit(s.charAt(t[0])) && rng.nextInt(3) == 0) return s.substring(0, t[0]) + n + s.substring(t[1]);
        return s.substring(0, at) + n + s.substring(at);
      }
      case 9: { // deep nesting around a token
        if (tokens.isEmpty()) return s;
        int[] t = tokens.get(rng.nextInt(tokens.size()));
        int depth = rng.nextInt(3) == 0 ? 150 + rng.nextInt(150) : 1 + rng.nextInt(30);
        String[] open = {"(", "-", "sigmoid(", "exp(", "vec(", "sum("};
        String o = open[rng.nextInt(open.length)];
        String close = o.endsWith("(") ? ")" : "";
        return s.substring(0, t[0]) + o.repeat(depth) + s.substring(t[0], t[1]) + close.repeat(depth) + s.substring(t[1]);
      }
      case 10: // non-ASCII or odd characters
        return s.substring(0, at) + ODD[rng.nextInt(ODD.length)] + s.substring(at);
      default: { // a name replaced by another name of the spec (or a new one)
        if (tokens.isEmpty()) return s;
        int[] t = tokens.get(rng.nextInt(tokens.size())), u = tokens.get(rng.nextInt(tokens.size()));
        String name = rng.nextInt(4) == 0 ? "q" + rng.nextInt(3) : s.substring(u[0], u[1]);
        return s.substring(0, t[0]) + name + s.substring(t[1]);
      }
    }
  }

  /** Byte-level damage: invalid UTF-8 bytes, a UTF-16 byte order mark, truncation of a multi-byte character. */
  private static byte[] mutateBytes(byte[] b, Random rng) {
    int at = rng.nextInt(b.length + 1);
    byte[] insert = switch (rng.nextInt(4)) {
      case 0 -> new byte[] {(byte) (0x80 + rng.nextInt(128))};
      case 1 -> new byte[] {(byte) 0xC3};
      case 2 -> new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}; // an encoded surrogate
      default -> new byte[] {(byte) 0xFF, (byte) 0xFE};
    };
    if (insert.length == 2 && rng.nextBoolean()) at = 0;
    byte[] out = new byte[b.length + insert.length];
    System.arraycopy(b, 0, out, 0, at);
    System.arraycopy(insert, 0, out, at, insert.length);
    System.arraycopy(b, at, out, at + insert.length, b.length - at);
    return out;
  }

  /** Token spans [start, end): names, numbers, and single operator characters. */
  private static List<int[]> tokens(String s) {
    List<int[]> out = new ArrayList<>();
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (Character.isWhitespace(c)) {
        i++;
        continue;
      }
      int j = i + 1;
      if (Character.isLetterOrDigit(c) || c == '_' || c == '.') {
        while (j < s.length() && (Character.isLetterOrDigit(s.charAt(j)) || s.charAt(j) == '_' || s.charAt(j) == '.')) j++;
      }
      out.add(new int[] {i, j});
      i = j;
    }
    return out;
  }
}

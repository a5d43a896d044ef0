package org.hbp.train;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The notices of a training run's steps, each distinct line passed on once: a step's curvature
 * that is computed in chunks of samples says so in a line ({@code the Hessian diagonal of batch 500
 * does not fit ...: computing it in 7 chunks of 72 samples}) at every step, the same line while
 * the plan stays; the run says it the first time, and again only when the plan changes to one not
 * said before.
 */
public final class RunNotices implements Consumer<String> {
  private final Consumer<String> out;
  private final Set<String> said = new HashSet<>();

  private RunNotices(Consumer<String> out) {
    this.out = out;
  }

  /** A consumer that passes each distinct line on to {@code out} once. */
  public static Consumer<String> onceEach(Consumer<String> out) {
    return out instanceof RunNotices r ? r : new RunNotices(out);
  }

  @Override
  public synchronized void accept(String line) {
    if (said.add(line)) out.accept(line);
  }
}

package org.hbp.cli;

import org.hbp.io.AtomicFiles;
import picocli.CommandLine.Option;

/**
 * {@code --overwrite} of every command that writes files: without it an output that exists
 * already is refused before any work ({@link org.hbp.io.CommandFiles}); with it, it is replaced
 * atomically. The writes take {@link #existing}: without {@code --overwrite} a file that appears
 * at an output path during the run (another run writing the same output) is kept, and this run's
 * write fails instead.
 */
final class OverwriteOption {
  @Option(names = "--overwrite", description = "Replace output files that exist already (else they are an error, before any work).")
  boolean overwrite;

  /** What the command's writes do with a file at an output path: replace it with --overwrite, else keep it. */
  AtomicFiles.Existing existing() {
    return overwrite ? AtomicFiles.Existing.REPLACE : AtomicFiles.Existing.KEEP;
  }
}

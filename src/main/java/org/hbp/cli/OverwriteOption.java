package org.hbp.cli;

import picocli.CommandLine.Option;

/**
 * {@code --overwrite} of every command that writes files: without it an output that exists
 * already is refused before any work ({@link org.hbp.io.CommandFiles}); with it, it is replaced
 * atomically.
 */
final class OverwriteOption {
  @Option(names = "--overwrite", description = "Replace output files that exist already (else they are an error, before any work).")
  boolean overwrite;
}

package org.hbp.cli;

/**
 * A command that draws progress bars ({@link ProgressMode}): {@link Main#execute} reads the mode
 * before the command runs, so that a bad {@code HBP_PROGRESS} is refused before any work (not
 * when the first bar is drawn, after minutes of it), and not when only help is asked for.
 */
interface DrawsProgress {}

package org.hbp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** `hbp --help` lists every command with a one-line summary that ends; each command's own help keeps its full description. */
class HelpTextTest {
  @Test
  void everyCommandHasAOneLineSummaryThatEnds() {
    CommandLine hbp = Main.commandLine();
    Map<String, CommandLine> commands = hbp.getSubcommands();
    assertTrue(commands.size() >= 10, commands.keySet().toString());
    String usage = hbp.getUsageMessage();
    for (Map.Entry<String, CommandLine> c : commands.entrySet()) {
      if (c.getKey().equals("help")) continue;
      String[] header = c.getValue().getCommandSpec().usageMessage().header();
      assertEquals(1, header.length, c.getKey());
      assertTrue(header[0].endsWith("."), c.getKey() + ": " + header[0]);
      // the list's line: two spaces, the name padded to 12 columns, the summary, within 80 columns
      String line = "  " + String.format("%-12s", c.getKey()) + header[0];
      assertTrue(line.length() <= 80, line);
      assertTrue(usage.lines().anyMatch(l -> l.equals(line)), "hbp --help lacks the line '" + line + "':\n" + usage);
      String[] description = c.getValue().getCommandSpec().usageMessage().description();
      assertTrue(description.length >= 1 && String.join(" ", description).length() > header[0].length(),
          c.getKey() + ": its help has a description beyond the summary");
    }
    assertEquals(List.of(), usage.lines().filter(l -> l.length() > 80).toList());
  }

  /**
   * Every command's help renders as written: picocli formats each description with String.format
   * and, where that fails (a lone '%' such as "80 %)"), prints a "[picocli WARN]" on standard error
   * and shows the text raw, %n included.
   */
  @Test
  void everyCommandsHelpFormatsWithoutPicocliWarnings() {
    CommandLine hbp = Main.commandLine();
    java.io.PrintStream err = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    StringBuilder usages = new StringBuilder();
    try {
      System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
      usages.append(hbp.getUsageMessage());
      for (CommandLine c : hbp.getSubcommands().values()) {
        usages.append(c.getUsageMessage());
        for (CommandLine nested : c.getSubcommands().values()) usages.append(nested.getUsageMessage());
      }
    } finally {
      System.setErr(err);
    }
    assertEquals("", captured.toString(java.nio.charset.StandardCharsets.UTF_8));
    assertTrue(!usages.toString().contains("%n"), "a help text shows a raw %n");
  }

  @Test
  void aCommandLineBuildsOnlyTheCommandItRuns() {
    assertEquals(List.of("derive"), List.copyOf(Main.commandLine(new String[] {"derive", "x.hbp"}).getSubcommands().keySet()));
    assertEquals(Main.COMMANDS.keySet(), Main.commandLine(new String[] {"help", "derive"}).getSubcommands().keySet());
    assertEquals(Main.COMMANDS.keySet(), Main.commandLine(new String[] {"--help"}).getSubcommands().keySet());
    assertEquals(Main.COMMANDS.keySet(), Main.commandLine(new String[] {"nonsense"}).getSubcommands().keySet());
    assertEquals(Main.COMMANDS.keySet(), Main.commandLine(new String[0]).getSubcommands().keySet());
    // each command is registered under the name its @Command gives
    for (Map.Entry<String, Class<?>> c : Main.COMMANDS.entrySet())
      assertEquals(c.getKey(), c.getValue().getAnnotation(picocli.CommandLine.Command.class).name());
  }

  @Test
  void anUnknownCommandStillListsTheCommands() {
    CliRun r = CliRun.hbp("deriv");
    r.assertExit(2);
    assertTrue(r.err().contains("derive"), r.err());
  }
}

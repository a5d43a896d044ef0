package org.hbp.dsl;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Decodes the bytes of a spec file as UTF-8, strictly, naming the place of a bad byte. */
final class SpecText {
  private SpecText() {}

  static String decode(byte[] bytes, String source) {
    if (bytes.length >= 2 && ((bytes[0] == (byte) 0xFE && bytes[1] == (byte) 0xFF) || (bytes[0] == (byte) 0xFF && bytes[1] == (byte) 0xFE)))
      throw new DslException(source, 1, 1, "the file is UTF-16 (it starts with a UTF-16 byte order mark), but hbp reads spec files as UTF-8; "
          + "save it as UTF-8");
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length);
    CoderResult r = decoder.decode(in, out, true);
    if (!r.isError()) r = decoder.flush(out);
    out.flip();
    if (r.isError()) {
      int at = in.position();
      throw error(source, out, out.length(), String.format("byte 0x%02X (at byte offset %d) is not valid UTF-8; hbp reads spec files as UTF-8",
          bytes[at] & 0xff, at));
    }
    String text = out.toString();
    int nul = text.indexOf('\0');
    if (nul >= 0)
      throw error(source, out, nul, "a NUL byte (is the file UTF-16? hbp reads spec files as UTF-8)");
    return text.startsWith("\uFEFF") ? text.substring(1) : text;
  }

  /** An error at the character offset {@code end} of the decoded text (1-based line and column). */
  private static DslException error(String source, CharSequence text, int end, String detail) {
    int line = 1, column = 1;
    for (int i = 0; i < end; i++) {
      if (text.charAt(i) == '\n') {
        line++;
        column = 1;
      } else column++;
    }
    return new DslException(source, line, column, detail);
  }
}

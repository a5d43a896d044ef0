package org.hbp.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.function.Executable;

/**
 * Test helper: a reader refuses its input before allocating much, measured by the bytes the
 * reading thread allocates (independent of -Xmx).
 *
 * @param expected the exception the reader must throw
 * @param limit fewer bytes than this may be allocated meanwhile
 */
public record Allocations(Class<? extends Throwable> expected, long limit) {
    /** Runs {@code reading}, expecting the exception, checks the bytes allocated meanwhile, and returns its message. */
    public String refusedCheaply(Executable reading) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        Throwable e = assertThrows(expected, reading);
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < limit, "allocated " + allocated + " bytes before refusing: " + e.getMessage());
        return e.getMessage();
    }
}

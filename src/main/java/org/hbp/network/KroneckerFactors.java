package org.hbp.network;

/**
 * The factors of a parameter's Kronecker-factored block {@code A ⊗ G} (column-major vec of the
 * parameter, m x p): A (p x p) and G (m x m), column-major arrays; for EKFAC also its scalings D
 * (column-major, rank(G) x rank(A): m x p, or fewer where a factor of few columns has a thin
 * eigenbasis), the block's diagonal in the eigenbasis of A and G (null otherwise).
 */
public record KroneckerFactors(int m, int p, double[] a, double[] g, double[] scalings) {}

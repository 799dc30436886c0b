/// OpenPGP: keyrings and signature verification for signed Debian repositories.
public enum OpenPGP {}

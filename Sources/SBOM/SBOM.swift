/// Software bills of materials for Debian-based images.
public enum SBOM {}

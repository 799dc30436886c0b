/// Running images for real with runc.
public enum ContainerRuntime {}

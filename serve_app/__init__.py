"""Ray Serve application: the HTTP/handle ingress and the MediaPipe pose replicas."""

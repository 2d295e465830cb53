"""Keys and signed metadata: the server's own key now; image repository and director later."""

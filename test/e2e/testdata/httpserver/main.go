// Command httpserver answers every request with a short fixed body, fast:
// the server side of the Service throughput benchmark, where busybox's
// httpd (a process per connection) would measure itself.
package main

import (
	"log"
	"net/http"
)

func main() {
	body := []byte("ok\n")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	log.Fatal(http.ListenAndServe(":8080", nil))
}

package pause

//go:generate go run ./gen -o pause.gz

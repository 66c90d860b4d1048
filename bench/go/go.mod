module hello

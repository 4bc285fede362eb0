// <stdlib.h> for lwIP: what it uses (netif.c: atoi).
#pragma once
int atoi(const char *s);

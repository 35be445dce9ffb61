/* main.c - placeholder until the hub lands. */
#include "switchboard/common.h"
int main(void) { return 0; }

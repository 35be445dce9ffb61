/* placeholder so the hub library has a source until the hub lands */
int sb_hub__placeholder;

/* placeholder: the store helper replaces this with engine selection and wrappers */
int sb_store__placeholder;

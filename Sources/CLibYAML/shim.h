#ifndef SPECC_CLIBYAML_SHIM_H
#define SPECC_CLIBYAML_SHIM_H
#include <yaml.h>
#endif

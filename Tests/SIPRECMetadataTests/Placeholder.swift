// placeholder until the metadata tests land

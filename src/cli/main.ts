#!/usr/bin/env node
console.log('tunmesh');
